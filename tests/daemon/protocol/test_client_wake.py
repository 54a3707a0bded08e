"""A caller's command reaches the wire at once, not on the I/O thread's next poll tick: with the
tick stretched to a minute, a GENERATE sent while the I/O thread is idle still arrives within
seconds (before, each command waited for the tick: 17.7 ms median per call at the real 20 ms
tick, measured against the toy daemon on the CPU)."""

from __future__ import annotations

import time

import motionbridge.daemon.protocol.client_io as client_io
from motionbridge.daemon.protocol.client import MotionBridgeClient

from .test_client_io import ScriptedDaemon


def test_a_command_wakes_the_idle_io_thread(monkeypatch):
    monkeypatch.setattr(client_io, "_TICK_S", 60.0)
    daemon = ScriptedDaemon()
    client = MotionBridgeClient(daemon.endpoint, timeout_s=30.0, retries=0)
    try:
        time.sleep(0.5)  # the I/O thread is now inside its (minute-long) poll
        for i in range(3):
            client.generate("A person walks.", duration_s=2.0, seeds=(i,))
            _, msg = daemon.recv("GENERATE", timeout_s=10.0)
            assert msg.header["seeds"] == [i]
            time.sleep(0.2)
    finally:
        client.close()
        daemon.close()
