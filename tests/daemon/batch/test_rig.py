"""--rig: takes are retargeted; a take whose rig cannot be mapped fails alone."""

from __future__ import annotations

import pytest
from batch_helpers import write_takes

from motionbridge.daemon.batch import manifest, review, runner
from motionbridge.daemon.batch.generation import EngineGenerator
from motionbridge.exporters import npz

TENTACLE_BVH = """HIERARCHY
ROOT base
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT mid
  {
    OFFSET 0 50 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT tip
    {
      OFFSET 0 50 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 10 0
      }
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0 0 0 0
"""


def test_unmappable_rig_fails_only_its_take(tmp_path, engine):
    (tmp_path / "rigs").mkdir()
    (tmp_path / "rigs" / "tentacle.bvh").write_text(TENTACLE_BVH)  # three bones in a row: no hips, no limbs
    # a relative rig path in a row is relative to the takes file
    takes_file = write_takes(tmp_path / "takes.jsonl", 3, prompts=1, extra={1: {"rig": "rigs/tentacle.bvh"}})
    out = tmp_path / "out"
    config = runner.BatchConfig(takes_file, out, formats=("npz",), rig="mixamo", batch_size=3)
    result = runner.run_local(runner.plan(config), EngineGenerator(engine))
    assert result.exit_code == 1 and result.ok == 2
    assert [(i, name) for i, name, _ in result.failed] == [(1, "t01_s1")]
    assert "FAILED #1 t01_s1" in result.summary()
    entries = manifest.read_latest(out)
    assert entries[1]["status"] == "failed" and entries[1]["files"] == []
    assert "cannot map this skeleton as a humanoid" in entries[1]["error"] and entries[1]["rig"].endswith("rigs/tentacle.bvh")
    assert not (out / "t01_s1.npz").exists()
    for i in (0, 2):
        (clip,) = npz.read(out / entries[i]["files"][0]["path"])
        assert clip.skeleton.names[0] == "mixamorig:Hips"  # written on the rig, not SMPL-X
        assert entries[i]["rig"] == "mixamo"
        assert entries[i]["metrics"]["hip_height_ratio"] > 0  # in the rig's units per metre
        assert "direction_error_deg.max_deg" in entries[i]["metrics"]
    rows = {row["name"]: row for row in review.read_data(out)["takes"]}  # the review page's data
    assert [rows[n]["status"] for n in ("t00_s0", "t01_s1", "t02_s2")] == ["ok", "failed", "ok"]
    assert "cannot map this skeleton as a humanoid" in rows["t01_s1"]["error"]


def test_unknown_rig_is_refused_before_any_work(tmp_path):
    takes_file = write_takes(tmp_path / "takes.jsonl", 2)
    config = runner.BatchConfig(takes_file, tmp_path / "out", formats=("npz",), rig="no_such_rig")
    with pytest.raises(ValueError, match="neither a preset"):
        runner.plan(config)
    assert not (tmp_path / "out").exists()
