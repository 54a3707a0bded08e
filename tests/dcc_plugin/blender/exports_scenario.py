"""Run inside bpy by test_blender_exports.py: the extension, installed from its zip by
Blender's own extension manager (wheels included), exports one take to every format.

The system's pygltflib and usd-core (pxr) are hidden, as they are in a user's Blender: what
the export finds must come from the extension's wheels or from Blender itself.

argv: ZIP OUT_DIR   (BLENDER_USER_RESOURCES: a private user folder)
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import site
import sys
import time
from pathlib import Path

HIDDEN = {"pygltflib", "pxr", "dataclasses_json", "marshmallow", "typing_inspect", "deprecated", "wrapt"}
SYSTEM = {os.path.realpath(p) for p in site.getsitepackages() + [site.getusersitepackages()]}


class HideSystemPackages:
    """Top-level imports of HIDDEN modules skip the system site-packages."""

    def find_spec(self, name, path=None, target=None):
        if path is not None or name.split(".")[0] not in HIDDEN:
            return None
        allowed = [p for p in sys.path if os.path.realpath(p or ".") not in SYSTEM]
        spec = importlib.machinery.PathFinder.find_spec(name, allowed)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r} (system copy hidden)", name=name)
        return spec


sys.meta_path.insert(0, HideSystemPackages())
# nor a pip-installed (editable) motionbridge: only the code the zip vendors
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__name__", type(f).__name__).lower()]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpy  # noqa: E402
from scenario_report import run_and_report  # noqa: E402

ZIP, OUT = sys.argv[1], Path(sys.argv[2])
FORMATS = ("fbx", "glb", "gltf", "bvh", "usd", "usda", "npz")
report: dict = {"exports": {}}


def main():
    from bl_pkg import bl_extension_cli

    report["install_rc"] = bl_extension_cli.cli_extension_handler(["install-file", "--repo", "user_default", "--enable", ZIP])
    extension = importlib.import_module("bl_ext.user_default.motionbridge")
    session = extension.session
    from motionbridge.dcc_plugin.core import targeting
    from motionbridge.rigs import synthetic

    report["motionbridge_from"] = [extension.__file__, targeting.__file__]
    bpy.ops.motionbridge.add_mannequin()
    props = bpy.context.scene.motionbridge
    panel = session.panel()
    rig = props.target.name
    target = targeting.resolve_target(rig, panel.host.read_rig(rig))
    clip, _ = targeting.to_target(synthetic.walking(2.0), target)
    panel.host.apply_take(rig, clip, "walk_take", {"prompt": "walk", "seed": 0})
    report["frames"] = clip.num_frames
    session.sync_takes()
    for item in props.takes:
        item.selected = True
    for ext in FORMATS:
        path = OUT / f"walk_take.{ext}"
        try:
            result = bpy.ops.motionbridge.export_takes(filepath=str(path))
        except RuntimeError as exc:  # the operator reported an error
            result = str(exc)
        end = time.monotonic() + 120
        while panel.scene_jobs.pending and time.monotonic() < end:
            panel.host.drain()
            time.sleep(0.01)
        report["exports"][ext] = {"result": str(result), "status": panel.status, "error": panel.error, "exists": path.is_file()}
    report["modules"] = {m: getattr(sys.modules.get(m), "__file__", None) for m in ("pygltflib", "pxr")}
    report["missing_message"] = missing_message(extension.export_modules)


def missing_message(export_modules):
    """What the animator reads when a format's module is absent (pxr hidden for this check)."""
    saved = sys.modules.pop("pxr", None)
    path = sys.path[:]
    sys.path[:] = [p for p in sys.path if "python/lib" not in p.replace(os.sep, "/")]
    try:
        return export_modules.missing_for(".usd")
    finally:
        sys.path[:] = path
        if saved is not None:
            sys.modules["pxr"] = saved


run_and_report(main, report, OUT)
