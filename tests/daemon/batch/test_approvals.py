"""Directors' verdicts: the sidecar file and `batch --only approved|rejected|unreviewed`."""

from __future__ import annotations

import json

import pytest
from batch_helpers import run_cli, write_takes
from review_output import write_sidecar

from motionbridge.daemon.batch import approvals, takes


def _record(take: takes.Take, verdict: str, **changed) -> dict:
    rec = {"verdict": verdict, "take": take.index, "prompt": take.prompt, "seed": take.seed, "cfg": take.cfg,
           "duration_s": take.duration_s, "rig": None}
    rec.update(changed)
    return rec


@pytest.fixture
def six_takes(tmp_path):
    path = write_takes(tmp_path / "takes.jsonl", 6)
    return path, list(takes.iter_takes(path))


def test_a_verdict_counts_only_for_the_request_it_was_given_to(six_takes):
    _, ts = six_takes
    records = {
        ts[0].name: _record(ts[0], "approved"),
        ts[1].name: _record(ts[1], "approved", prompt="A person sits down."),  # prompt edited since
        ts[2].name: _record(ts[2], "rejected"),
        ts[3].name: _record(ts[3], "approved", cfg=7.0),  # cfg edited since
    }
    assert approvals.select(ts, records, "approved").keep == {0}
    assert approvals.select(ts, records, "rejected").keep == {2}
    unreviewed = approvals.select(ts, records, "unreviewed")
    assert unreviewed.keep == {1, 3, 4, 5} and unreviewed.outdated == 2


def test_sidecar_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "review" / approvals.SIDECAR
    assert approvals.read(path) == {}
    approvals.write(path, {"b_s1": {"verdict": "rejected"}, "a_s0": {"verdict": "approved"}, "c": {"verdict": "maybe"}})
    assert approvals.read(path) == {"a_s0": {"verdict": "approved"}, "b_s1": {"verdict": "rejected"}}
    assert not list(path.parent.glob(".*.part"))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        approvals.read(path)
    path.write_text(json.dumps({"takes": {}}))
    with pytest.raises(ValueError, match="not a MotionBridge approvals file"):
        approvals.read(path)


def test_batch_only_approved_runs_just_the_approved_takes(six_takes, tmp_path, engine_args, batch_env):
    takes_file, ts = six_takes
    out = tmp_path / "out"
    write_sidecar(out / "review" / approvals.SIDECAR, {
        ts[1].name: _record(ts[1], "approved"), ts[4].name: _record(ts[4], "approved"),
        ts[2].name: _record(ts[2], "rejected"), ts[5].name: _record(ts[5], "approved", seed=99),
    })
    result = run_cli([str(takes_file), "--out", str(out), "--only", "approved", "--no-preview", *engine_args], env=batch_env)
    assert result.returncode == 0, result.stderr
    assert "--only approved: 2 selected takes are approved, 2 of them to run (4 others left out); " \
           "1 verdicts in approvals.json were given to another prompt, seed, cfg or duration" in result.stderr
    assert sorted(p.name for p in out.glob("*.npz")) == [f"{ts[1].name}.npz", f"{ts[4].name}.npz"]
    # the page is rebuilt from the manifest; the verdicts stay as they were
    assert len(json.loads((out / "review" / "takes.json").read_text())["takes"]) == 2
    assert set(approvals.read(out / "review" / approvals.SIDECAR)) == {ts[1].name, ts[2].name, ts[4].name, ts[5].name}


def test_batch_only_reads_another_folders_verdicts_and_checks_its_input(six_takes, tmp_path, engine_args, batch_env):
    takes_file, ts = six_takes
    drafts = write_sidecar(tmp_path / "drafts" / "review" / approvals.SIDECAR, {ts[3].name: _record(ts[3], "rejected")})
    out = tmp_path / "final"
    args = [str(takes_file), "--out", str(out), "--check", *engine_args]
    result = run_cli([*args, "--only", "unreviewed", "--approvals", str(drafts)], env=batch_env)
    assert result.returncode == 0, result.stderr
    assert "--only unreviewed: 5 selected takes are unreviewed, 5 of them to run (1 others left out)" in result.stderr
    for extra, message in (
        (["--only", "approved"], f"no approvals file at {out / 'review' / approvals.SIDECAR}"),
        (["--approvals", str(drafts)], "--approvals is read only with --only"),
    ):
        result = run_cli([*args, *extra], env=batch_env)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()
