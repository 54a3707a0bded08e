"""The TD walkthrough in daemon/batch/README.md runs exactly as written, in a clean shell, on
the tiny test model: --check, an in-process run, a resume that redoes one deleted take, and
the same takes through a daemon giving the same bytes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
README = REPO / "daemon" / "batch" / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    marker = text.index("The test suite runs this block as written")
    return re.search(r"```bash\n(.*?)```", text[marker:], re.S).group(1)


def test_batch_readme_walkthrough_runs_as_written(tmp_path):
    # a fresh shell: PATH (where `motionbridge` is), HOME, a temp folder and this checkout's
    # packages (in CI `pip install -e .` puts them there); nothing else of the test process
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "TMPDIR": str(tmp_path),
           "PYTHONPATH": str(REPO / ".pkgroot"), "LANG": "C.UTF-8"}
    started = time.monotonic()
    # its own process group: a daemon the block started is stopped even if the block fails early
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    print(f"batch walkthrough: {time.monotonic() - started:.1f} s")
    log = stdout + stderr
    assert proc.returncode == 0, log[-5000:]
    assert stdout.strip().endswith("same bytes"), log[-3000:]
    assert "3 takes selected of 3, 0 already done, 3 to run" in log, log[-3000:]  # --check, then the run
    assert "3 takes selected of 3, 2 already done, 1 to run" in log, log[-3000:]  # the resume: walk_s1 only
    assert log.count("3 ok, 0 already done, 0 failed of 3 takes") == 2, log[-3000:]  # in process and via the daemon
