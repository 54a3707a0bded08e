"""Every format exports from inside Blender: the extension is built with its real wheels
(downloaded by `motionbridge install blender --zip-only`), installed and enabled by Blender's
own extension manager, and exports one take to FBX, GLB, glTF, BVH, USD, USDA and NPZ with
the system's pygltflib and usd-core hidden (exports_scenario.py). The files are read back by
the same independent readers as the exporter tests: the Khronos validator, usd-core's
validators and UsdSkel, ufbx, numpy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bpy")
pytestmark = [pytest.mark.blender, pytest.mark.timeout(900)]
HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
TOOLS = TESTS / ".tools"
sys.path.insert(0, str(HERE))
from scenario_report import read_report  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_exports")
    built = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "install", "blender", "--zip-only", str(out / "mb.zip"),
                            "--blender-python", "{}.{}".format(*sys.version_info[:2])], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "MOTIONBRIDGE_BLENDER": ""})
    assert built.returncode == 0, f"building the zip with real wheels needs pip's index: {built.stderr}"
    # only the zip's vendored code: no checkout on the path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BLENDER_USER_RESOURCES"] = str(out / "user")
    env["MOTIONBRIDGE_CONFIG_DIR"] = str(out / "settings")
    proc = subprocess.run([sys.executable, str(HERE / "exports_scenario.py"), str(out / "mb.zip"), str(out)],
                          capture_output=True, text=True, env=env, timeout=800)
    return read_report(out, proc.returncode, proc.stderr), out


def test_the_extension_came_from_the_zip_with_its_wheels(run):
    report, out = run
    assert report["install_rc"] == 0
    for module in report["motionbridge_from"]:  # the add-on and the vendored core
        assert module.startswith(str(out / "user" / "extensions" / "user_default" / "motionbridge")), module
    assert str(out / "user" / "extensions" / ".local") in report["modules"]["pygltflib"]  # the extension's wheel
    assert "/bpy/" in report["modules"]["pxr"] and "python/lib" in report["modules"]["pxr"]  # Blender's own USD


@pytest.mark.parametrize("ext", ["fbx", "glb", "gltf", "bvh", "usd", "usda", "npz"])
def test_every_format_is_written(run, ext):
    report, out = run
    done = report["exports"][ext]
    assert done["exists"] and not done["error"], done
    assert done["status"].startswith("Exported 1 take(s) to") and done["status"].find(f"walk_take.{ext}") > 0


def test_gltf_files_pass_the_khronos_validator(run):
    _, out = run
    if shutil.which("node") is None or not (TOOLS / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("gltf-validator missing: run install/dev_setup.sh (npm install into tests/.tools)")
    paths = [str(out / "walk_take.glb"), str(out / "walk_take.gltf")]
    proc = subprocess.run(["node", str(TESTS / "exporters" / "validate_gltf.js"), str(TOOLS), *paths], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for report in json.loads(proc.stdout):
        assert report["numErrors"] == 0, report


@pytest.mark.parametrize("ext", ["usd", "usda"])
def test_usd_files_pass_usd_cores_validators(run, ext):
    from pxr import Usd, UsdSkel, UsdValidation

    report, out = run
    stage = Usd.Stage.Open(str(out / f"walk_take.{ext}"))
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    assert [e.GetMessage() for e in UsdValidation.ValidationContext(validators).Validate(stage)] == []
    skeletons = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skeletons) == 1 and len(skeletons[0].GetJointsAttr().Get()) == 55


def test_fbx_reads_back_in_ufbx(run):
    report, out = run
    dump = out / "fbx.json"
    proc = subprocess.run([sys.executable, str(TESTS / "exporters" / "ufbx_readback.py"), str(out / "walk_take.fbx"), "30", str(dump)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(json.loads(dump.read_text())["takes"]) == ["walk_take"]


def test_bvh_and_npz_hold_the_take(run):
    report, out = run
    bvh = (out / "walk_take.bvh").read_text()
    assert len(re.findall(r"^\s*(ROOT|JOINT)\s", bvh, re.M)) == 55
    assert int(re.search(r"Frames:\s*(\d+)", bvh).group(1)) == report["frames"]
    with np.load(out / "walk_take.npz", allow_pickle=False) as npz:
        assert any(a.shape[:1] == (report["frames"],) for a in (npz[k] for k in npz.files))


def test_a_missing_format_module_is_explained_in_one_line(run):
    report, _ = run
    assert report["missing_message"].startswith("cannot export USD from this Blender: this Blender build has no USD Python module")
    assert "\n" not in report["missing_message"]
