"""The TD walkthrough in daemon/batch/README.md runs exactly as written, in a clean shell, on
the tiny test model: --check, an in-process run, a resume that redoes one deleted take, and
the same takes through a daemon giving the same bytes."""

from __future__ import annotations

import os
import re
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
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
    print(f"batch walkthrough: {time.monotonic() - started:.1f} s")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert out.stdout.strip().endswith("same bytes"), log[-3000:]
    assert "3 takes selected of 3, 0 already done, 3 to run" in log, log[-3000:]  # --check, then the run
    assert "3 takes selected of 3, 2 already done, 1 to run" in log, log[-3000:]  # the resume: walk_s1 only
    assert log.count("3 ok, 0 already done, 0 failed of 3 takes") == 2, log[-3000:]  # in process and via the daemon
