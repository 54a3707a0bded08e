"""The OpenJD bundle: `openjd check`; the README's local walkthrough run verbatim in a clean
shell (one daemon per session, ready only after its model loaded, chunked Batch tasks, the
Merge step); relative paths refused; a daemon that dies while loading fails the environment
with its own error line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import write_takes

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "install" / "openjd" / "template.yaml"
README = REPO / "install" / "openjd" / "README.md"
OPENJD = shutil.which("openjd")
pytestmark = pytest.mark.skipif(OPENJD is None, reason="openjd-cli not installed (pip install 'motionbridge[farm]')")


def clean_env(tmp_path: Path) -> dict[str, str]:
    """A fresh shell's environment: PATH, HOME, a temp folder, and this checkout's packages
    (what `pip install -e .` gives in CI); nothing of the test process's own settings."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "TMPDIR": str(tmp_path),
            "PYTHONPATH": str(REPO / ".pkgroot"), "LANG": "C.UTF-8"}


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
        if " serve --bind tcp://127.0.0.1:0" in text:
            found.append(text)
    return found


def walkthrough() -> str:
    text = README.read_text()
    marker = text.index("runs exactly this block")
    return re.search(r"```bash\n(.*?)```", text[marker:], re.S).group(1)


def test_readme_walkthrough_runs_as_written(tmp_path):
    started = time.monotonic()
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=REPO, env=clean_env(tmp_path),
                         capture_output=True, text=True, timeout=900)
    print(f"openjd walkthrough: {time.monotonic() - started:.1f} s")
    log = out.stdout + out.stderr
    tail = log[-6000:]
    assert out.returncode == 0 and "Session ended successfully" in log, tail
    assert "No such file" not in log and "can't read" not in log, tail  # no start race on serve.out
    assert "Chunks run: 2" in log or log.count("2 takes selected of 4") == 2, tail  # 0-3 in chunks of 2
    assert log.count("motionbridge daemon ready at tcp://127.0.0.1:") == 1, tail  # one daemon, Batch step only
    assert log.count("2 takes selected of 4, 0 already done") == 2, tail  # each chunk ran its own range
    assert "merged the manifest" in log and "4 of 4 selected takes complete" in log, tail
    listing = out.stdout.split()
    assert {"walk_s0.npz", "walk_s1.npz", "walk_s2.npz", "walk_s3.npz", "manifest.jsonl", "review"} <= set(listing), out.stdout[-2000:]
    assert not _daemons(), f"the environment left its daemon running: {_daemons()}"


def run_job(tmp_path: Path, serve_args: str) -> str:
    takes_file = write_takes(tmp_path / "takes.jsonl", 2)
    params = {"TakesFile": takes_file, "OutDir": tmp_path / "out", "TakeRange": "0-1", "ChunkSize": 2, "Formats": "npz",
              "ServeArgs": serve_args, "MotionBridge": f"{sys.executable} -m motionbridge.daemon.cli"}
    args = [OPENJD, "run", str(TEMPLATE)] + [a for k, v in params.items() for a in ("-p", f"{k}={v}")]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, env=clean_env(tmp_path), cwd=tmp_path)
    assert out.returncode != 0
    return out.stdout + out.stderr


def test_relative_model_paths_are_refused(tmp_path):
    log = run_job(tmp_path, "--parity ../shared/parity --device cpu")
    assert "ServeArgs: --parity ../shared/parity is a relative path" in log, log[-3000:]
    assert "motionbridge daemon ready" not in log and not _daemons()


def test_a_daemon_that_cannot_load_fails_the_environment_with_its_error(tmp_path):
    missing = tmp_path / "no-such-fixture"
    log = run_job(tmp_path, f"--parity {missing} --device cpu")
    line = next((row for row in log.splitlines() if "motionbridge serve exited before its model loaded:" in row), "")
    assert line and str(missing) in line, log[-3000:]  # the daemon's own message, naming the folder
    assert "motionbridge daemon ready" not in log and not _daemons()
