"""--step-timeout: a worker that stops reporting progress mid-batch (a hung CUDA kernel) is
killed and replaced, and only its in-flight requests get ERROR worker_died.

A real `motionbridge serve` subprocess with a real worker process, over real sockets; the
engine (hanging_engine.py) makes two Euler steps and then blocks forever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from daemon_proc import DaemonProcess, pid_alive, wait_gone

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol.client import MotionBridgeClient

HERE = Path(__file__).resolve().parent
HEARTBEAT_S = 0.2
STEP_TIMEOUT_S = 1.0
STEP_S = 0.15  # 10 steps: 1.5 s per batch, longer than the step timeout but never silent that long


def test_hung_worker_is_killed_and_replaced_and_its_request_gets_worker_died(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))
    d = DaemonProcess("--engine-factory", "hanging_engine:make_engine", "--engine-option", f"step_s={STEP_S}",
                      "--engine-option", "hang_after_step=2", "--step-timeout", str(STEP_TIMEOUT_S),
                      "--drain-timeout", "1", heartbeat=HEARTBEAT_S)
    c = MotionBridgeClient(d.endpoint, timeout_s=2.0)
    bystander = MotionBridgeClient(d.endpoint, timeout_s=2.0)
    pid = None
    try:
        pid = c.status()["workers"][0]["pid"]
        seen: list[tuple[float, str, dict]] = []  # stamped on the client's I/O thread as each event arrives
        hung = c.generate("HANG: a person freezes.", duration_s=1.0,
                          on_event=lambda e: seen.append((time.monotonic(), e.kind, e.data)))
        deadline = time.monotonic() + 10.0
        while not any(kind == "progress" for _, kind, _ in seen) and time.monotonic() < deadline:
            time.sleep(0.01)
        waiting = bystander.generate("A person waits.", duration_s=1.0)  # queued behind the hung batch
        assert waiting.poll(5.0)[0].kind == "accepted"

        deadline = time.monotonic() + STEP_TIMEOUT_S + 10.0
        while not hung.done and time.monotonic() < deadline:
            time.sleep(0.005)
        assert hung.done, f"no ERROR {STEP_TIMEOUT_S + 10:g} s after the worker hung; events: {[k for _, k, _ in seen]}"
        assert hung.error is not None and hung.error.code == P.E_WORKER_DIED, hung.error
        assert "no progress" in hung.error.message and "resend" in hung.error.message
        steps = [data["step"] for _, kind, data in seen if kind == "progress"]
        assert steps == [1, 2], steps  # it really hung mid-batch, after its second step
        last_progress = max(t for t, kind, _ in seen if kind == "progress")
        error_at = next(t for t, kind, _ in seen if kind == "error")
        silent = error_at - last_progress
        print(f"\nhung worker: ERROR {silent:.3f} s after its last progress (step timeout {STEP_TIMEOUT_S:g} s, "
              f"heartbeat {HEARTBEAT_S:g} s)")
        # not early (the client may see the last progress a little after the daemon did), not late
        assert STEP_TIMEOUT_S - HEARTBEAT_S <= silent <= STEP_TIMEOUT_S + 2 * HEARTBEAT_S, silent

        restart = d.wait_for("worker restart", 5.0)[0]
        assert restart["in_flight"] == 1 and "no progress" in restart["reason"]
        assert wait_gone(pid, 5.0), f"the hung worker {pid} is still running"

        # the request queued behind the hung batch survives and runs on the new worker, and
        # batches that take longer than the step timeout in total (1.5 s) are not mistaken for hangs
        assert len(waiting.wait(60.0)) == 1
        assert len(c.generate("A person walks on.", duration_s=1.0).wait(30.0)) == 1
        worker = c.status()["workers"][0]
        assert worker["restarts"] == 1 and worker["pid"] != pid and pid_alive(worker["pid"])
        assert len(d.events("worker restart")) == 1
    finally:
        c.close()
        bystander.close()
        stopped = d.stop()
        if pid is not None and pid_alive(pid):  # the daemon failed to kill it: do not leave it behind
            os.kill(pid, signal.SIGKILL)
        assert stopped == 0
