"""The request path's JSON lines (server.py `_log_soon`): written once the loop has sent the
messages they describe, and still in order, once each per request: accepted, then its batch."""

from __future__ import annotations

from daemon_proc import DaemonProcess

from motionbridge.daemon.protocol.client import MotionBridgeClient


def test_each_request_logs_accepted_then_its_batch():
    d = DaemonProcess("--engine-factory", "toy_engine:make_engine", "--engine-option", "step_s=0")
    try:
        with MotionBridgeClient(d.endpoint, timeout_s=5) as c:
            ids = []
            for seed in range(3):
                handle = c.generate("A person walks.", duration_s=1.0, seeds=(seed,))
                assert len(handle.wait(10)) == 1
                ids.append(handle.request_id)
        d.wait_for("batch", 10, count=3)
        lines = [r for r in d.log if r.get("event") in ("accepted", "batch")]
        for rid in ids:
            mine = [r["event"] for r in lines if r.get("request") == rid or rid in r.get("ids", [])]
            assert mine == ["accepted", "batch"], lines
    finally:
        d.stop()
