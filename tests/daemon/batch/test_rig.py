"""--rig: takes are retargeted; a take whose rig cannot be mapped fails alone."""

from __future__ import annotations

import json

import pytest
from conftest import write_takes

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator
from motionbridge.exporters import npz


def test_unmappable_rig_fails_only_its_take(tmp_path, engine):
    tentacle = tmp_path / "tentacle.json"  # three bones in a row: no hips, no limbs
    tentacle.write_text(json.dumps({
        "names": ["base", "mid", "tip"], "parents": [-1, 0, 1],
        "rest_translations": [[0, 0, 0], [0, 0.5, 0], [0, 0.5, 0]],
        "rest_rotations": [[0, 0, 0, 1]] * 3,
    }))
    takes_file = write_takes(tmp_path / "takes.jsonl", 3, prompts=1, extra={1: {"rig": str(tentacle)}})
    out = tmp_path / "out"
    config = runner.BatchConfig(takes_file, out, formats=("npz",), rig="mixamo", batch_size=3)
    result = runner.run_local(runner.plan(config), EngineGenerator(engine))
    assert result.exit_code == 1 and result.ok == 2
    assert [(i, name) for i, name, _ in result.failed] == [(1, "t01_s1")]
    assert "FAILED #1 t01_s1" in result.summary()
    entries = manifest.read_latest(out)
    assert entries[1]["status"] == "failed" and entries[1]["files"] == [] and "map" in entries[1]["error"]
    assert not (out / "t01_s1.npz").exists()
    for i in (0, 2):
        (clip,) = npz.read(out / entries[i]["files"][0]["path"])
        assert clip.skeleton.names[0] == "mixamorig:Hips"  # written on the rig, not SMPL-X
        assert entries[i]["rig"] == "mixamo"
        assert 0 < entries[i]["metrics"]["hip_height_ratio"] < 10
        assert "direction_error_deg.max_deg" in entries[i]["metrics"]
    page = (out / "review" / "index.html").read_text()
    assert page.count('class="card failed"') == 1 and "hip_height_ratio" in page


def test_unknown_rig_is_refused_before_any_work(tmp_path):
    takes_file = write_takes(tmp_path / "takes.jsonl", 2)
    config = runner.BatchConfig(takes_file, tmp_path / "out", formats=("npz",), rig="no_such_rig")
    with pytest.raises(ValueError, match="neither a preset"):
        runner.plan(config)
    assert not (tmp_path / "out").exists()
