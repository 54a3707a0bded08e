"""Through a real daemon: a request that waits for the model to load (the first one after the
start, and one after a worker restart) says so, once, in a PROGRESS (`"stage": "loading"`) and
in the JSON log, and runs when the load is done, whose first PROGRESS no longer carries a stage.

The engine (hanging_engine.py) blocks its load while a flag file exists, as a slow disk does."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess, wait_gone

from motionbridge.daemon.protocol.client import MotionBridgeClient

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def engine_on_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))


def progress_until(handle, predicate, timeout: float = 20.0) -> list[dict]:
    """The request's PROGRESS headers polled so far, once `predicate(them)` holds."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += [e.data for e in handle.poll(0.1) if e.kind == "progress"]
        if predicate(seen):
            return seen
    raise AssertionError(f"not seen within {timeout} s: {seen}")


def loading_then_served(d: DaemonProcess, c: MotionBridgeClient, stuck: Path, prompt: str) -> None:
    handle = c.generate(prompt, duration_s=1.0)
    seen = progress_until(handle, lambda s: bool(s))
    assert seen[0]["stage"] == "loading" and seen[0]["step"] == 0 and seen[0]["total"] == 0 and seen[0]["queued"] == 0
    time.sleep(1.0)  # five heartbeats later the load still runs: nothing more was sent
    assert [e for e in handle.poll(0.1) if e.kind == "progress"] == []
    [logged] = [r for r in d.events("request stage") if r["id"] == handle.request_id]
    assert logged["stage"] == "loading"
    stuck.unlink()  # the load finishes; the request runs
    clips = handle.wait(30)
    assert len(clips) == 1
    stages = [r["stage"] for r in d.events("request stage") if r["id"] == handle.request_id]
    assert stages == ["loading", "compiled"]  # the toy engine has no slower path: back to none


def test_a_request_waiting_for_the_model_load_says_loading(tmp_path):
    stuck = tmp_path / "disk-is-slow"
    stuck.touch()
    d = DaemonProcess("--engine-factory", "hanging_engine:make_engine", "--engine-option", f"stuck_while={stuck}",
                      "--load-timeout", "120", wait_ready=False)
    try:
        with MotionBridgeClient(d.endpoint, timeout_s=5) as c:
            loading_then_served(d, c, stuck, "A person waits for the model.")
            d.wait_for("worker ready", 10)

            # a worker restart (here a crash) loads the model again: the next request says so too
            pid = c.status()["workers"][0]["pid"]
            stuck.touch()
            os.kill(pid, signal.SIGKILL)
            assert wait_gone(pid)
            d.wait_for("worker restart", 10)
            loading_then_served(d, c, stuck, "A person waits again.")
            # once ready, a request runs at once and its PROGRESS carries no stage
            handle = c.generate("A person walks.", duration_s=1.0)
            seen = progress_until(handle, lambda s: bool(s))
            assert "stage" not in seen[0]
            handle.wait(30)
    finally:
        d.stop()
