"""The report a Blender scenario script (run in its own bpy process) leaves for its test."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

REPORT = "report.json"


def run_and_report(main: Callable[[], None], report: dict, out: Path) -> None:
    """In the scenario: run `main`, write `report` (a crash's traceback under 'crash') and leave
    at once. bpy used as a module can hang in its own C++ teardown (GlobalState destructor
    waiting on a condition variable at exit); the report is written, so no exit handlers run."""
    try:
        main()
    except Exception:
        report["crash"] = traceback.format_exc()
    (out / REPORT).write_text(json.dumps(report, indent=1, default=str))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def read_report(out: Path, returncode: int, stderr: str) -> dict:
    """In the test: the scenario's report, failing on a missing report or a crash inside it."""
    path = out / REPORT
    assert path.is_file(), f"scenario wrote no report (exit {returncode}):\n{stderr[-3000:]}"
    report = json.loads(path.read_text())
    assert "crash" not in report, report["crash"]
    return report


def run_against_daemon(script: Path, daemon_args: tuple[str, ...], out: Path, env: dict, timeout_s: float) -> dict:
    """In the test: start a real daemon (tests/daemon/daemon_proc.py) with `daemon_args`, run
    the scenario `script ENDPOINT OUT` in the bpy build `env` names, stop the daemon and return
    the scenario's report."""
    import subprocess

    from daemon_proc import DaemonProcess

    daemon = DaemonProcess(*daemon_args, ready_timeout=300)
    try:
        proc = subprocess.run([sys.executable, str(script), daemon.endpoint, str(out)], capture_output=True, text=True, env=env, timeout=timeout_s)
    finally:
        daemon.stop()
    return read_report(out, proc.returncode, proc.stderr)


def pump(until: Callable[[], bool], timeout_s: float = 60.0, sleep_s: float = 0.01) -> None:
    """In a scenario: what bpy.app.timers does in the UI, drain the panel host's main-thread
    queue, until `until()` holds."""
    import time

    from motionbridge.dcc_plugin.blender import session

    host = session.panel().host
    end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > end:
            raise TimeoutError(f"panel stuck in {session.panel().state}: {session.panel().status}")
        host.drain()  # type: ignore[attr-defined]
        time.sleep(sleep_s)
