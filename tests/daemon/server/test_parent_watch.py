"""Workers, and the multiprocessing resource tracker, die with their daemon (parent_watch.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess

from motionbridge.daemon.protocol.client import MotionBridgeClient

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")


def _state(pid: int) -> str | None:
    """The process's state letter, or None once it is gone (a zombie counts as gone: it has
    exited and only waits for whoever adopted it to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    return None if state in ("Z", "X") else state


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _state(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return _state(pid) is None


def _children(pid: int) -> dict[int, str]:
    """Direct children of `pid`: their command lines."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return out


def test_kill_9_of_the_daemon_takes_its_worker_and_resource_tracker_along():
    d = DaemonProcess("--engine-factory", "toy_engine:make_engine")
    try:
        with MotionBridgeClient(d.endpoint, timeout_s=5.0) as c:
            worker = c.status()["workers"][0]["pid"]
        children = _children(d.proc.pid)
        trackers = [pid for pid, cmd in children.items() if "resource_tracker" in cmd]
        assert worker in children and len(trackers) == 1, children
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(10)
        assert _gone(worker, 5.0), f"worker {worker} outlived its daemon"
        assert _gone(trackers[0], 5.0), f"resource tracker {trackers[0]} outlived the daemon and its worker"
    finally:
        d.stop()


# the polling fallback alone (no prctl, as on macOS): a middle process starts a watched child,
# prints its pid, and is killed
_MIDDLE = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
    print(child.pid, flush=True)
    time.sleep(120)
""")
_CHILD = textwrap.dedent("""
    import os, sys, time
    sys.platform = "darwin"  # no PR_SET_PDEATHSIG: only the polling thread can notice
    from motionbridge.daemon.server.parent_watch import die_with_parent
    die_with_parent(os.getppid())
    time.sleep(120)
""")


def test_without_prctl_the_polling_fallback_ends_an_orphan():
    middle = subprocess.Popen([sys.executable, "-c", _MIDDLE, _CHILD], stdout=subprocess.PIPE, text=True)
    try:
        child = int(middle.stdout.readline())
        time.sleep(1.0)  # past its start-up check: the thread has to notice
        assert _state(child) is not None
        os.kill(middle.pid, signal.SIGKILL)
        middle.wait(10)
        assert _gone(child, 5.0), "the orphan kept running"
    finally:
        middle.kill()
        middle.wait(10)
