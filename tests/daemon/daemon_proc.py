"""Runs `motionbridge serve` as a real subprocess on a random loopback port, for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid still exists (a worker the daemon should have killed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """Waits up to `timeout` seconds for the process to exit; True once it has."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


class DaemonProcess:
    def __init__(self, *args: str, heartbeat: float = 0.2, bind: str | None = "tcp://127.0.0.1:*",
                 ready_timeout: float = 120.0, wait_ready: bool = True):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(HERE)]).strip(os.pathsep)
        # a compile cache of its own (also when an in-process test left TORCHINDUCTOR_CACHE_DIR set): a
        # shape another test's daemon compiled and marked (compile/cache.py) would otherwise be loaded
        # before READY with this test's compile function
        env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="mb-test-inductor-")
        self.heartbeat = heartbeat
        binding = ["--bind", bind] if bind is not None else []  # None: serve's default
        cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "serve", *binding, "--heartbeat", str(heartbeat), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.log: list[dict] = []
        self._log_lock = threading.Lock()
        self._stderr_tail: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise RuntimeError(f"daemon did not start (exit {self.proc.returncode}):\n{''.join(self._stderr_tail[-40:])}")
        self.endpoint = json.loads(line)["endpoint"]
        if wait_ready:  # False: the test watches the model load itself
            self.wait_for("worker ready", ready_timeout)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr_tail.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                with self._log_lock:
                    self.log.append(record)

    def events(self, name: str) -> list[dict]:
        with self._log_lock:
            return [r for r in self.log if r.get("event") == name]

    def wait_for(self, name: str, timeout: float, count: int = 1) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited ({self.proc.returncode}):\n{''.join(self._stderr_tail[-40:])}")
            time.sleep(0.02)
        raise TimeoutError(f"no {name!r} log event after {timeout} s:\n{''.join(self._stderr_tail[-20:])}")

    def stderr_text(self) -> str:
        return "".join(self._stderr_tail)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode
