"""For scenarios run inside bpy: what bpy.app.timers does in the UI, without a UI."""

from __future__ import annotations

import time

from motionbridge.dcc_plugin.blender import session


def pump(until, timeout_s=60.0):
    """Drain the panel host's main-thread queue until `until()` holds."""
    host = session.panel().host
    end = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > end:
            raise TimeoutError(f"panel stuck in {session.panel().state}: {session.panel().status}")
        host.drain()
        time.sleep(0.01)
