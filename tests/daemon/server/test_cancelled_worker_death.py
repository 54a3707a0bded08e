"""A request the client cancelled ends as `cancelled` even when its worker hangs and is killed
by the step timeout, or dies, before it could stop; the other requests of that batch still get
`worker_died`, and each request ends exactly once.

A real `motionbridge serve` subprocess with real worker processes, over real sockets; the engine
(hanging_engine.py) blocks a batch holding a HANG prompt after its second Euler step, ignoring
CANCEL as a worker stuck in a CUDA kernel does."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient

HERE = Path(__file__).resolve().parent


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout:g} s")
        time.sleep(0.01)


@pytest.mark.parametrize("death", ["step timeout", "kill -9"])
def test_cancelled_request_on_a_dying_worker_ends_cancelled_and_the_rest_worker_died(monkeypatch, death):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))
    step_timeout = "1" if death == "step timeout" else "300"  # 300: only the kill ends the hung batch
    d = DaemonProcess("--engine-factory", "hanging_engine:make_engine", "--engine-option", "step_s=0.05",
                      "--engine-option", "hang_after_step=2", "--step-timeout", step_timeout, heartbeat=0.2)
    c = MotionBridgeClient(d.endpoint, timeout_s=2.0)
    other = MotionBridgeClient(d.endpoint, timeout_s=2.0)
    pid = None
    try:
        blocker = c.generate("A person stands.", duration_s=1.0)
        _wait_until(lambda: any(e.kind == "progress" for e in blocker.poll(0.05)), 10.0, "progress")
        seen: list = []  # every event of the cancelled request, from the client's I/O thread
        hung = c.generate("HANG: a person freezes.", duration_s=1.0, on_event=seen.append)
        bystander = other.generate("A person waits.", duration_s=1.0)  # batched with it, never cancelled
        assert len(blocker.wait(10.0)) == 1
        _wait_until(lambda: any(e.kind == "progress" and e.data["step"] >= 2 for e in list(seen)), 10.0,
                    "second step of the hung batch")
        assert set(d.events("batch")[-1]["ids"]) == {hung.request_id, bystander.request_id}
        pid = c.status()["workers"][0]["pid"]

        hung.cancel()
        c.ping()  # answered after the CANCEL (one connection, in order): the daemon has seen it
        assert not hung.done  # the worker is stuck, so it cannot confirm the cancel
        if death == "kill -9":
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(ClientError) as err:
            hung.wait(15.0)
        assert err.value.code == P.E_CANCELLED, err.value
        with pytest.raises(ClientError) as err:
            bystander.wait(15.0)
        assert err.value.code == P.E_WORKER_DIED and "resend" in err.value.message, err.value

        # the worker is replaced and serves; by then any second ERROR would have arrived too
        assert len(c.generate("A person walks on.", duration_s=1.0).wait(30.0)) == 1
        assert [e.kind for e in seen].count("error") == 1
        ended = [e["code"] for e in d.events("request ended") if e["request"] == hung.request_id]
        assert ended == [P.E_CANCELLED]
        restarts = d.events("worker restart")
        assert len(restarts) == 1 and restarts[0]["in_flight"] == 2
        if death == "step timeout":
            assert "no progress" in restarts[0]["reason"]
    finally:
        c.close()
        other.close()
        stopped = d.stop()
        if pid is not None:  # the daemon failed to kill it: do not leave it behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert stopped == 0
