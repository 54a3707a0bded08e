"""--load-timeout: a worker whose model load hangs (a stuck network mount) is killed; the daemon
keeps answering, ends waiting and new requests with model_unavailable (saying what to check),
starts the worker again after a pause that doubles with each failed load (a hang or a failure),
and serves again once a load succeeds.

A real `motionbridge serve` subprocess with real worker processes, over real sockets; the engine
(hanging_engine.py) blocks its load while one flag file exists and fails it while another does."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess, pid_alive, wait_gone

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient

HERE = Path(__file__).resolve().parent
HEARTBEAT_S = 0.2
LOAD_TIMEOUT_S = 1.5  # a toy load takes about 0.5 s here; a slow one is simply retried
LOAD_RETRY_S = 0.3


def test_stuck_load_is_killed_reported_and_retried_with_a_growing_pause(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))
    stuck, broken = tmp_path / "mount-is-stuck", tmp_path / "mount-is-broken"
    stuck.touch()
    d = DaemonProcess("--engine-factory", "hanging_engine:make_engine", "--engine-option", f"stuck_while={stuck}",
                      "--engine-option", f"broken_while={broken}", "--load-timeout", str(LOAD_TIMEOUT_S),
                      "--load-retry", str(LOAD_RETRY_S), heartbeat=HEARTBEAT_S, wait_ready=False)
    c = MotionBridgeClient(d.endpoint, timeout_s=2.0)
    try:
        worker = c.status()["workers"][0]
        assert not worker["ready"] and worker["pid"] is not None and worker["load_error"] is None
        early = c.generate("A person waits.", duration_s=1.0)  # queued while the first load runs
        assert early.poll(5.0)[0].kind == "accepted"
        with pytest.raises(ClientError) as err:
            early.wait(LOAD_TIMEOUT_S + 10.0)
        assert err.value.code == P.E_MODEL_UNAVAILABLE, err.value
        assert "--load-timeout" in err.value.message and "readable" in err.value.message
        first = d.wait_for("worker load failed", 5.0)[0]
        assert first["retry_in_s"] == LOAD_RETRY_S and "--load-timeout" in first["reason"]
        assert wait_gone(worker["pid"]), f"the stuck worker {worker['pid']} was not killed"

        # the daemon itself keeps answering, says why it cannot generate, and refuses new work at once
        c.ping()
        status = c.status()
        assert "--load-timeout" in status["unavailable"] and "--load-timeout" in status["workers"][0]["load_error"]
        refused = c.generate("A person jumps.", duration_s=1.0)
        with pytest.raises(ClientError) as err:
            refused.wait(5.0)
        assert err.value.code == P.E_MODEL_UNAVAILABLE and "resend" in err.value.message
        assert [e.kind for e in refused.poll()] == ["error"]  # never accepted, so never queued

        # still stuck: the pause doubles, so a hung mount costs a start per pause, not a spin
        second = d.wait_for("worker load failed", LOAD_TIMEOUT_S + 10.0, count=2)[1]
        assert second["retry_in_s"] == 2 * LOAD_RETRY_S and second["failures"] == 2
        assert len(d.events("worker starting")) in (2, 3)  # the first start, one retry, maybe the next

        # the mount comes back broken: a retry that fails outright is paused too, not fatal
        broken.touch()  # before the unlink, so no retry can miss it
        stuck.unlink()
        third = d.wait_for("worker load failed", 10.0, count=3)[2]
        assert "engine failed to load" in third["reason"] and third["failures"] == 3
        assert third["retry_in_s"] == 4 * LOAD_RETRY_S
        c.ping()
        assert "Stale file handle" in c.status()["workers"][0]["load_error"]

        broken.unlink()  # the mount recovers: the next retry loads
        d.wait_for("worker ready", 30.0)
        failures = [e["failures"] for e in d.events("worker load failed")]
        assert failures == list(range(1, len(failures) + 1))  # 3, or more if a slow last load timed out too
        assert len(failures) == len(d.events("worker starting")) - 1  # each failed start counted once
        status = c.status()
        worker = status["workers"][0]
        assert status["unavailable"] is None and worker["ready"] and worker["load_error"] is None
        assert worker["restarts"] >= 2 and worker["retry_in_s"] is None
        assert len(c.generate("A person walks.", duration_s=1.0).wait(30.0)) == 1
        starts = [e["pid"] for e in d.events("worker starting")]
        assert starts[-1] == worker["pid"]
        assert not [pid for pid in starts[:-1] if not wait_gone(pid)], "a stuck worker was left running"
    finally:
        c.close()
        stopped = d.stop()
        for e in d.events("worker starting"):  # the daemon failed to kill one: do not leave it behind
            if pid_alive(e["pid"]):
                os.kill(e["pid"], signal.SIGKILL)
        assert stopped == 0
