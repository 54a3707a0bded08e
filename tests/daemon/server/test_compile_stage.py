"""Through a real daemon: a request whose shape compiles in the background runs at once and its
PROGRESS says so (`stage`), the compile never holds up ping, STATUS or cancel, and a compile
that fails is logged as JSON and leaves the request served."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess

from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def engine_on_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))


def _stages(client, prompt, seeds=(0,)):
    events = []
    handle = client.generate(prompt, duration_s=2.0, seeds=seeds, on_event=events.append)
    clips = handle.wait(60)
    return clips, [e.data for e in events if e.kind == "progress"]


def test_a_compile_that_never_ends_holds_up_nothing():
    d = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=hang")
    try:
        with MotionBridgeClient(d.endpoint, timeout_s=10) as c:
            clips, progress = _stages(c, "A person walks.")
            assert len(clips) == 1 and progress
            assert all(p.get("stage") == "compiling" and p.get("queued") == 0 for p in progress)
            [logged] = [r for r in d.events("request stage") if r["id"] == progress[0]["id"]]  # once per request
            assert logged["stage"] == "compiling"
            t = time.perf_counter()
            c.ping()
            status = c.status()
            assert time.perf_counter() - t < 5 and status["workers"][0]["ready"]
            handle = c.generate("A person jumps.", duration_s=2.0, seeds=(1,))
            handle.cancel()
            with pytest.raises(ClientError) as err:  # ends while the compile still hangs
                handle.wait(60)
            assert err.value.code == "cancelled"
            clips, _ = _stages(c, "A person walks.", (2,))  # and the daemon keeps serving
            assert len(clips) == 1
    finally:
        d.stop()


def test_a_failing_compile_is_logged_and_the_request_served():
    d = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=fail")
    try:
        with MotionBridgeClient(d.endpoint, timeout_s=10) as c:
            clips, progress = _stages(c, "A person walks.")
            assert len(clips) == 1
            [failed] = d.wait_for("compile_failed", 30)
            assert "lowering failed" in failed["error"] and failed["shape"]
            _, progress = _stages(c, "A person walks.", (1,))
            assert progress and all(p.get("stage") == "compile_failed" for p in progress)
    finally:
        d.stop()


def test_warm_up_all_queues_every_shape_after_ready():
    d = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=ok", "--warm-up", "all", "--max-batch", "4")
    try:
        [queued] = d.wait_for("precompile_queued", 30)
        assert queued["shapes"] == 12 * 4 * 3  # length buckets x prompt buckets x rows 1, 2, 4
        d.wait_for("compile_done", 60, count=3)  # they compile in the background while serving
        with MotionBridgeClient(d.endpoint, timeout_s=10) as c:
            clips, _ = _stages(c, "A person walks.")
            assert len(clips) == 1
    finally:
        d.stop()


def test_warm_up_queues_its_compile_behind_ready():
    """READY does not wait for the warm-up length's compile (here one that never ends): that
    length is served at once, uncompiled, while it compiles in the background."""
    d = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=hang", "--warm-up", "2")
    try:
        [started] = d.wait_for("compile_start", 30)
        with MotionBridgeClient(d.endpoint, timeout_s=10) as c:
            deadline = time.monotonic() + 30
            while not c.status()["workers"][0]["ready"]:
                assert time.monotonic() < deadline, "not READY 30 s after the warm-up's compile started"
                time.sleep(0.1)
            clips, progress = _stages(c, "A person walks.")
            assert len(clips) == 1 and progress and all(p.get("stage") == "compiling" for p in progress)
        assert not d.events("compile_done")
        assert started["shape"]
    finally:
        d.stop()


def test_status_says_what_each_worker_compiles():
    """A worker's background compiles reach STATUS: the one that never ends shows as compiling;
    with a compiler that finishes, the warm-up's shape shows as ready and nothing waits."""
    hanging = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=hang", "--warm-up", "2")
    finishing = DaemonProcess("--engine-factory", "compiling_engine:make_engine", "--engine-option", "mode=ok", "--warm-up", "2")
    try:
        for d, want in ((hanging, lambda c: c["compiling"] and c["ready"] == 0),
                        (finishing, lambda c: c["compiling"] is None and c["ready"] >= 1 and c["queued"] == 0)):
            with MotionBridgeClient(d.endpoint, timeout_s=10) as c:
                deadline, seen = time.monotonic() + 30, None
                while time.monotonic() < deadline:
                    seen = c.status()["workers"][0]["compiles"]
                    if seen is not None and want(seen):
                        break
                    time.sleep(0.2)
                assert seen is not None and want(seen), seen
    finally:
        hanging.stop()
        finishing.stop()
