"""The Blender take writer in real bpy, without a daemon: keys round-trip, the evaluated pose
matches the clip's forward kinematics, a failed write leaves nothing, and its speed. Runs on
the installed bpy and on every other bpy release in tests/.tools (bpy_builds.py): 4.2 and 4.3
key plain Actions, 4.4+ layered ones."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bpy_builds import builds, env_for  # noqa: E402

BUILDS = builds()


@pytest.fixture(scope="module", params=[folder for _, folder in BUILDS], ids=[label for label, _ in BUILDS])
def result(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("takes") / "out.json"
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("takes_scenario.py")), str(out)],
                          capture_output=True, text=True, env=env_for(request.param), timeout=600)
    assert out.is_file(), proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_bpy_under_test_is_the_one_asked_for(result, request):
    folder = request.node.callspec.params["result"]
    if folder is not None:  # tests/.tools/bpy-4.2.0 -> Blender 4.2.0
        assert result["blender"] == folder.name.split("-", 1)[1]
    assert result["layered"] == (tuple(int(x) for x in result["blender"].split(".")[:2]) >= (4, 4))


def test_keys_round_trip_and_drive_the_pose(result):
    assert result["frames"] == 150
    assert result["max_rot_err"] < 1e-6 and result["max_root_err"] < 1e-5  # float32 keys
    assert result["pose_err_m"] < 1e-4


def test_failed_write_leaves_no_half_written_take(result):
    assert result["failed_write_raised"] and result["after_failure"] == [0, 0]
    assert result["takes"] == ["walk_0", "walk_1", "walk_2"]


def test_key_write_time_is_reported(result, record_property):
    best = min(result["keys_ms"])
    record_property("keys_ms_150_frames", best)
    print(f"\nkeys for a 5 s (150 frame) 55-joint take: best {best:.1f} ms of {[round(x, 1) for x in result['keys_ms']]}")
    assert best > 0
