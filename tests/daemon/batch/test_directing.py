"""The takes file's directing columns: checked with the row (`batch --check`: one line per bad
row, exit 2, nothing run; paths that leave the takes file's folder refused), run in-process
and through a real daemon to the same bytes, and part of a take's resume identity."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from batch_helpers import HERE
from daemon_proc import DaemonProcess
from equal_outputs import assert_same_outputs

from motionbridge.daemon.batch import manifest, runner, takes
from motionbridge.daemon.batch.generation import EngineGenerator, ServerGenerator
from motionbridge.daemon.cli import main
from motionbridge.exporters.npz import read, write
from motionbridge.rigs.synthetic import MOTIONS


def _keys(path, frames=(10, 30)):
    wave = MOTIONS["waving"]()
    np.savez(path, frames=np.array(frames), rotations=wave.rotations[[5, 25]], root_translation=wave.root_translation[[5, 25]])


@pytest.fixture
def folder(tmp_path):
    """A takes folder with a take and a keys file, and a take outside it."""
    d = tmp_path / "shots"
    d.mkdir()
    write(d / "walk.npz", [MOTIONS["walking"]()], ["walk"])
    _keys(d / "keys.npz")
    write(tmp_path / "outside.npz", [MOTIONS["walking"]()], ["walk"])
    (d / "sneaky.npz").symlink_to(tmp_path / "outside.npz")
    return d


def _rows(path, rows):
    path.write_text("".join(json.dumps({"prompt": "A person walks, then waves.", "duration": 1.5, **r}) + "\n" for r in rows))
    return path


def test_check_reports_every_bad_directing_row_and_runs_nothing(folder, tmp_path, capsys, engine_args):
    rows = [
        {"name": "ok", "start_from": "walk.npz@40", "keys": "keys.npz"},
        {"name": "up", "start_from": "../outside.npz"},
        {"name": "absolute", "end_at": str(tmp_path / "outside.npz")},
        {"name": "link", "start_from": "sneaky.npz"},
        {"name": "missing", "keys": "nokeys.npz"},
        {"name": "frame", "start_from": "walk.npz@99"},
        {"name": "late", "keys": "keys.npz", "duration": 0.8},
        {"name": "loopy", "loop": "maybe"},
        {"name": "half", "regenerate": "5:10"},
        {"name": "both", "loop": True, "start_from": "walk.npz"},
        {"name": "assisted", "loop": True, "assist": "rewrite"},
    ]
    takes_file = _rows(folder / "takes.jsonl", rows)
    assert main(["batch", str(takes_file), "--out", str(tmp_path / "out"), "--check", *engine_args]) == 2
    err = capsys.readouterr().err
    expected = {2: "leads outside the takes file's folder", 3: "not an absolute one", 4: "leads outside the takes file's folder",
                5: "does not exist", 6: "the take has frames 0 to 59", 7: "outside the take", 8: "loop must be true or false",
                9: "go together", 10: "cannot be combined", 11: "assist cannot be combined"}
    lines = [line for line in err.splitlines() if "takes.jsonl:" in line]
    assert len(lines) == len(expected), err
    for line, message in zip(lines, expected.items()):
        assert f"takes.jsonl:{message[0]}:" in line and message[1] in line, (line, message)
    assert not (tmp_path / "out").exists()


def test_directing_columns_read_like_the_cli_flags(folder):
    takes_file = _rows(folder / "takes.csv", [])
    takes_file.write_text('name,prompt,duration,start_from,keys,loop,extend,prompt_at\n'
                          'a,A person walks.,1.5,walk.npz@40,keys.npz,,,\n'
                          'b,A person walks.,1.5,,,true,,\n'
                          'c,A person walks.,20,,,,yes,8:A person sits down.|14:A person waves.\n')
    a, b, c = takes.iter_takes(takes_file)
    columns = json.loads(a.directing)
    assert columns["start_from"] == f"{folder}/walk.npz@40" and columns["keys"] == f"{folder}/keys.npz"
    assert set(columns["files"]) == {f"{folder}/walk.npz", f"{folder}/keys.npz"}
    assert json.loads(b.directing) == {"loop": True, "files": {}}
    assert json.loads(c.directing)["prompt_at"] == ["8:A person sits down.", "14:A person waves."]


def test_directed_rows_run_in_process_and_through_a_daemon_to_the_same_bytes_and_resume(folder, tmp_path, engine, monkeypatch):
    rows = [{"name": "directed", "start_from": "walk.npz@40", "keys": "keys.npz", "seeds": [1, 2]},
            {"name": "plain", "seed": 3}, {"name": "loop", "loop": "true", "seed": 4}]
    takes_file = _rows(folder / "takes.jsonl", rows)
    local = runner.BatchConfig(takes_file, tmp_path / "local", formats=("npz",), batch_size=8, previews=False)
    assert runner.run_local(runner.plan(local), EngineGenerator(engine)).exit_code == 0
    entries = manifest.read_latest(local.out_dir)
    assert "directing" not in entries[2] and entries[0]["directing"]["keys"] == f"{folder}/keys.npz"
    (directed,) = read(local.out_dir / "directed_s1.npz")
    assert directed.metadata["constraints"]["keys"]["frames"] == [10, 30] and directed.metadata["engine"] == "fast"  # batch's engine
    assert directed.metadata["constraints"]["start_from"] == {"file": f"{folder}/walk.npz", "frame": 40, "context_frames": 3}
    assert "constraints" not in read(local.out_dir / "plain_s3.npz")[0].metadata  # each row its own request
    assert "loop" in (loop := read(local.out_dir / "loop_s4.npz")[0].metadata["constraints"]) and "keys" not in loop

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))
    served = runner.BatchConfig(takes_file, tmp_path / "served", formats=("npz",), batch_size=8, previews=False)
    threads = str(torch.get_num_threads())  # CPU kernels round by thread count: the daemon's worker uses the same
    d = DaemonProcess("--engine-factory", "tiny_engine:make", "--device", "cpu", "--threads", threads, heartbeat=0.2)
    try:
        generator = ServerGenerator(d.endpoint, timeout_s=300)
        assert runner.run_local(runner.plan(served), generator).exit_code == 0
        generator.close()
    finally:
        d.stop()
    assert_same_outputs(local.out_dir, served.out_dir)

    _keys(folder / "keys.npz", frames=(12, 30))  # a changed keys file redoes the takes that use it, and only those
    again = runner.plan(runner.BatchConfig(**{**local.__dict__, "resume": True}))
    assert sorted(again.pending) == [0, 1] and again.skipped == 2  # directed_s1, directed_s2


def test_a_failing_directed_request_fails_its_takes_only(folder, engine):
    takes_file = _rows(folder / "takes.jsonl", [{"name": "directed", "keys": "keys.npz"}, {"name": "plain", "seed": 3}])
    window = list(takes.iter_takes(takes_file))
    (folder / "keys.npz").unlink()  # gone between the check and the run
    directed, plain = EngineGenerator(engine).generate(window)
    assert directed.clip is None and "keys file" in directed.error and "does not exist" in directed.error
    assert plain.clip is not None and plain.error is None
