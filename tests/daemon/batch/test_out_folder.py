"""`batch --out` that is a symbolic link is refused before anything runs or is written."""

from __future__ import annotations

from batch_helpers import run_cli, write_takes


def test_symlinked_out_folder_is_refused(tmp_path, batch_env, engine_args):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    takes = write_takes(tmp_path / "takes.jsonl", 2)
    run = run_cli([str(takes), "--out", str(tmp_path / "out"), "--format", "npz", *engine_args], batch_env)
    assert run.returncode == 2 and "--out folder" in run.stderr and "symbolic link" in run.stderr, run.stderr[-2000:]
    assert run.stderr.count("\n") == 1
    assert not any(elsewhere.iterdir())
