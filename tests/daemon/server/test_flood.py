"""Clients that never read cannot crash or stall the daemon (server.py, outbox.py).

Three flooders send PINGs as fast as they can and never read. Two disconnect and reconnect
every second: with ZMTP heartbeats on its socket libzmq aborted the daemon within seconds
(`Assertion failed: !_io_error`). The third stays connected until its replies pass the
per-client cap and the daemon drops it. With blocking sends, each PONG the daemon could not
deliver held the whole loop for 200 ms. The victim's take must finish while the flood goes on, and a take
after the flood must equal, bit for bit, the same request's take before it.
"""

from __future__ import annotations

import time

from daemon_proc import DaemonProcess
from flood import Flooders

from motionbridge.daemon.protocol.client import MotionBridgeClient

TOY = ("--engine-factory", "toy_engine:make_engine", "--engine-option", "step_s=0.05")
PROMPT, SEEDS = "A person walks in a circle.", (3, 4)
DROPPED = "client dropped: it does not read its replies"


def _take(client: MotionBridgeClient, timeout: float) -> tuple[list, float]:
    t0 = time.monotonic()
    clips = client.generate(PROMPT, duration_s=2.0, seeds=SEEDS).wait(timeout)
    return clips, time.monotonic() - t0


def test_flooders_that_never_read_neither_crash_nor_stall_the_daemon():
    d = DaemonProcess(*TOY, heartbeat=1.0)  # the crash was seen at the default heartbeat
    victim = MotionBridgeClient(d.endpoint, timeout_s=5.0, retries=5)
    flooders: list[Flooders] = []
    try:
        before, quiet_s = _take(victim, 30.0)
        # first one that stays connected: it fills its pipe, then its outbox queue, and is dropped;
        # from then on a blocking send would hold the loop on each of its PONGs
        flooders.append(Flooders(d.endpoint, rounds_s=(60.0,), seconds=60.0))
        deadline = time.monotonic() + 15.0
        while not d.events(DROPPED) and time.monotonic() < deadline and d.proc.poll() is None:
            time.sleep(0.1)
        # then two that disconnect every second while the daemon owes them PONGs (the old abort),
        # one of them with ZMTP heartbeats of its own, like the client library
        flooders.append(Flooders(d.endpoint, rounds_s=(1.0, 1.0), heartbeats_ms=(0, 100), seconds=60.0))
        time.sleep(6.0)
        assert d.proc.poll() is None, d.stderr_text()[-2000:]
        during, flood_s = _take(victim, 30.0)
        status = victim.status(timeout_s=5.0)
        assert all(f.running() for f in flooders), "the flood must still be going on when the victim's take is done"
        # generous: 0.5 s of engine time took 0.55-0.7 s here during the flood, and many seconds
        # when each PONG the dropped flooder could not take held the loop for 200 ms
        assert flood_s < 10 * quiet_s + 3.0, f"the victim's take took {flood_s:.1f} s during the flood, {quiet_s:.1f} s alone"
        assert status["workers"][0]["ready"] and d.events(DROPPED), "the flooder that never reads is dropped"
        sent = [n for f in flooders for n in f.stop()]
        assert d.proc.poll() is None, d.stderr_text()[-2000:]
        after, _ = _take(victim, 30.0)
        print(f"\n[flood] {sum(sent)} PINGs from 3 flooders; victim's take {quiet_s:.2f} s alone, "
              f"{flood_s:.2f} s during the flood; {len(d.events(DROPPED))} drops")
        for clips in (during, after):
            assert [c.rotations.tobytes() for c in clips] == [c.rotations.tobytes() for c in before]
            assert [c.root_translation.tobytes() for c in clips] == [c.root_translation.tobytes() for c in before]
        # SIGTERM in the middle of a flood drains and exits at once (it took ~50 s with blocking sends)
        flooders.append(Flooders(d.endpoint, rounds_s=(1.0, 60.0), seconds=60.0))
        time.sleep(2.0)
        assert d.stop(timeout=15.0) == 0, d.stderr_text()[-2000:]
    finally:
        for f in flooders:
            f.stop()
        victim.close()
        assert d.stop() == 0, d.stderr_text()[-2000:]
