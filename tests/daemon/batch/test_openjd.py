"""The OpenJD bundle: `openjd check`, then `openjd run` on the tiny engine through a daemon
started once per session; the takes match an in-process run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import write_takes
from equal_outputs import assert_same_outputs
from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator

TEMPLATE = Path(__file__).resolve().parents[3] / "install" / "openjd" / "template.yaml"
OPENJD = shutil.which("openjd")
pytestmark = pytest.mark.skipif(OPENJD is None, reason="openjd-cli not installed (pip install 'motionbridge[farm]')")


def test_template_passes_openjd_check():
    out = subprocess.run([OPENJD, "check", str(TEMPLATE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "passes validation" in out.stdout, out.stdout + out.stderr


def _daemons() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if " serve " in text and "tiny_engine:make" in text:
            found.append(text)
    return found


def test_openjd_run_matches_in_process(tmp_path, engine, batch_env):
    takes_file = write_takes(tmp_path / "takes.jsonl", 4, prompts=2)
    local = runner.BatchConfig(takes_file, tmp_path / "local", formats=("npz",), batch_size=2)
    assert runner.run_local(runner.plan(local), EngineGenerator(engine)).exit_code == 0

    params = {
        "TakesFile": takes_file, "OutDir": tmp_path / "farm", "TakeRange": "0-3", "ChunkSize": 2, "Formats": "npz",
        "ServeArgs": "--engine-factory tiny_engine:make --device cpu",
        "MotionBridge": f"{sys.executable} -m motionbridge.daemon.cli",
    }
    args = [OPENJD, "run", str(TEMPLATE)] + [a for k, v in params.items() for a in ("-p", f"{k}={v}")]
    started = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, env=batch_env)
    print(f"openjd run: {time.monotonic() - started:.1f} s")
    log = out.stdout + out.stderr
    assert out.returncode == 0 and "Session ended successfully" in log, log[-4000:]
    tail = log[-6000:]
    assert "Chunks run: 2" in log, tail  # 0-3 in CHUNK[INT] chunks of 2
    assert log.count("motionbridge daemon ready at tcp://127.0.0.1:") == 1, tail  # one daemon for the session
    assert log.count("2 takes selected of 4, 0 already done") == 2, tail  # each chunk ran its own range
    assert not _daemons(), f"the job environment left its daemon running: {_daemons()}"
    assert_same_outputs(tmp_path / "local", tmp_path / "farm")
    farm = manifest.read_latest(tmp_path / "farm")
    assert all(e["status"] == "ok" and e["model_hash"] == engine.model_hash for e in farm.values())
