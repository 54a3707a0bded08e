"""`motionbridge install daemon-service`: run the daemon as a systemd user service.

Windows has no systemd; `windows_instructions()` is what we print there (Task Scheduler).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from . import paths, records

UNIT_NAME = "motionbridge.service"


def unit_text(serve_args: list[str], python: str = sys.executable) -> str:
    command = " ".join(shlex.quote(a) for a in [python, "-m", "motionbridge.daemon.cli", "serve", *serve_args])
    return (
        "[Unit]\n"
        "Description=MotionBridge daemon (HY-Motion 1.0 text to motion)\n"
        "After=network-online.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command}\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "# SIGTERM lets running requests finish (serve --drain-timeout)\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=90\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def install_service(serve_args: list[str], prefix=None) -> Path:
    unit = paths.systemd_user_units(prefix) / UNIT_NAME
    records.write_atomic(unit, unit_text(serve_args))
    return unit


def uninstall_service(prefix=None) -> list[Path]:
    unit = paths.systemd_user_units(prefix) / UNIT_NAME
    return [unit] if records.remove(unit) else []


def windows_instructions(serve_args: list[str]) -> str:
    command = [sys.executable, "-m", "motionbridge.daemon.cli", "serve", *serve_args]
    quoted = " ".join(f'"{a}"' if " " in a else a for a in command)
    return (
        "Windows has no systemd. To start the daemon at logon, create a scheduled task:\n"
        f'  schtasks /Create /SC ONLOGON /TN MotionBridge /RL LIMITED /TR "{quoted}"\n'
        "Start it now with: schtasks /Run /TN MotionBridge; remove it with: schtasks /Delete /TN MotionBridge /F\n"
        "(or wrap the same command with NSSM to run it as a service before anyone logs on)."
    )
