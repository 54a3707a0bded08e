"""Checks before any work, each one line on stderr and exit status 2 with nothing written:
--device as `generate` checks it, rig rows that are not rig files, links planted in --out.
And the output layout: subfolders, and `--no-merge` tasks merged by a final `--merge`."""

from __future__ import annotations

import json
import os

import pytest
import torch
from batch_helpers import write_takes

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator
from motionbridge.daemon.cli import main


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_one_line(tmp_path, capsys):
    takes_file = write_takes(tmp_path / "takes.jsonl", 1)
    code = main(["batch", str(takes_file), "--out", str(tmp_path / "out"), "--parity", str(tmp_path), "--device", "cuda"])
    assert code == 2
    assert "--device cuda but no CUDA GPU is visible; use --device cpu" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_an_unknown_device_is_one_line(tmp_path, capsys):
    takes_file = write_takes(tmp_path / "takes.jsonl", 1)
    assert main(["batch", str(takes_file), "--out", str(tmp_path / "out"), "--parity", str(tmp_path), "--device", "gpu0"]) == 2
    assert "--device 'gpu0': pass cpu, cuda or cuda:N" in one_error_line(capsys)


def test_a_row_rig_that_is_no_rig_file_fails_at_check(tmp_path, capsys, engine_args):
    takes_file = write_takes(tmp_path / "takes.jsonl", 2, extra={1: {"rig": "/etc/passwd"}})
    assert main(["batch", str(takes_file), "--out", str(tmp_path / "out"), "--check", *engine_args]) == 2
    assert "rig '/etc/passwd' is not a rig file" in one_error_line(capsys)


@pytest.mark.parametrize("planted", ["review", "manifest.d", "manifest.jsonl", "review/index.html"])
def test_links_planted_in_the_output_folder_are_refused(tmp_path, capsys, engine_args, planted):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "review").mkdir(parents=True)
    elsewhere.mkdir()
    if planted == "review":
        os.rmdir(out / "review")
    (out / planted).symlink_to(elsewhere / "target", target_is_directory=planted in ("review", "manifest.d"))
    takes_file = write_takes(tmp_path / "takes.jsonl", 1)
    assert main(["batch", str(takes_file), "--out", str(out), "--format", "npz", *engine_args]) == 2
    assert f"{out / planted} is a symbolic link" in one_error_line(capsys)
    assert not list(elsewhere.iterdir()) and not list(out.glob("*.npz"))


def test_subfolders_and_tasks_merged_by_a_final_step(tmp_path, engine, capsys, engine_args):
    """Two `--no-merge` tasks (3 takes per subfolder) leave shards, no manifest; `--merge`
    folds them; a resume finds every take complete at its subfolder path."""
    takes_file = write_takes(tmp_path / "takes.jsonl", 5, prompts=2)
    out = tmp_path / "out"
    for selection in ("0-2", "3-4"):
        config = runner.BatchConfig(takes_file, out, formats=("npz",), selection=selection, batch_size=3, merge=False, subfolders=3)
        assert runner.run_local(runner.plan(config), EngineGenerator(engine)).exit_code == 0
    assert not (out / manifest.MANIFEST).exists() and len(list((out / manifest.SHARDS).glob("*.jsonl"))) == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz")) == [
        "00000-00002/t00_s0.npz", "00000-00002/t01_s1.npz", "00000-00002/t02_s2.npz", "00003-00005/t03_s3.npz", "00003-00005/t04_s4.npz"]
    assert (out / "review" / "00003-00005" / "t04_s4.gif").is_file()

    assert main(["batch", str(takes_file), "--out", str(out), "--merge", "--subfolders", "3"]) == 0
    assert "5 of 5 selected takes complete" in capsys.readouterr().err
    lines = [json.loads(line) for line in (out / manifest.MANIFEST).read_text().splitlines()]
    assert [e["take"] for e in lines] == [0, 1, 2, 3, 4] and not list((out / manifest.SHARDS).glob("*.jsonl"))
    assert lines[4]["files"][0]["path"] == "00003-00005/t04_s4.npz"
    (out / "00000-00002" / "t01_s1.npz").unlink()
    assert main(["batch", str(takes_file), "--out", str(out), "--merge", "--subfolders", "3"]) == 1
    assert "4 of 5 selected takes complete; 1 to run again" in capsys.readouterr().err


def test_large_files_are_split_into_subfolders_by_default(tmp_path):
    small, large = (write_takes(tmp_path / f"{n}.jsonl", n) for n in (runner.SUBFOLDERS_FROM, runner.SUBFOLDERS_FROM + 1))
    assert runner.plan(runner.BatchConfig(small, tmp_path / "a")).config.subfolders == 0
    assert runner.plan(runner.BatchConfig(large, tmp_path / "b")).config.subfolders == runner.SUBFOLDER_SIZE
