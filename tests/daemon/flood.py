"""Clients that flood a daemon with PINGs and never read the PONGs, for the flood tests.

Each flooder is its own process (sharing the test's GIL would slow the test's own client
instead of the daemon). It reproduces the crash libzmq's heartbeats caused
(`Assertion failed: !_io_error`): a DEALER with RCVHWM 1 on plain TCP sends PINGs as fast as
it can without reading, then disconnects with its input stalled, connects again, and so on,
until `seconds` or `max_messages` is reached, or it gets SIGTERM.

    python flood.py ENDPOINT SECONDS MAX_MESSAGES ROUND_S [HEARTBEAT_MS]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def flood(endpoint: str, seconds: float, max_messages: int, round_s: float, heartbeat_ms: int = 0) -> int:
    """Connected `round_s` seconds at a time, then closed while the daemon still owes it PONGs;
    with `heartbeat_ms`, it also sends ZMTP heartbeats, as the client library does."""
    import zmq

    import motionbridge.daemon.protocol.frames as P

    frames = P.encode(P.Message(P.PING, {"id": "flood"}))
    ctx = zmq.Context()
    sent = 0
    end = time.monotonic() + seconds
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    while time.monotonic() < end and sent < max_messages and not stopping:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.RCVHWM, 1)
        sock.setsockopt(zmq.RCVBUF, 4096)  # a small kernel buffer: its backlog reaches the daemon sooner
        sock.setsockopt(zmq.LINGER, 0)
        if heartbeat_ms:
            sock.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
        sock.connect(endpoint)
        round_end = min(end, time.monotonic() + round_s)
        while time.monotonic() < round_end and sent < max_messages and not stopping:
            try:
                sock.send_multipart(frames, flags=zmq.NOBLOCK)
                sent += 1
            except zmq.Again:  # our own send queue is full: the daemon reads slower than we send
                time.sleep(0.0005)
        sock.close(0)
    ctx.term()
    return sent


class Flooders:
    """`count` flooder processes; `stop()` ends them and returns how many PINGs each sent."""

    def __init__(self, endpoint: str, rounds_s: tuple[float, ...] = (1.5, 1.5), seconds: float = 30.0,
                 max_messages: int = 3_000_000, heartbeats_ms: tuple[int, ...] = ()):
        env = dict(os.environ)  # PYTHONPATH points at this checkout (tests/conftest.py)
        self.procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), endpoint, str(seconds),
                                        str(max_messages), str(round_s), str(heartbeat_ms)],
                                       stdout=subprocess.PIPE, text=True, env=env)
                      for round_s, heartbeat_ms in zip(rounds_s, heartbeats_ms or (0,) * len(rounds_s))]

    def running(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self, timeout: float = 10.0) -> list[int]:
        sent = []
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                out, _ = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            sent.append(int(out.strip() or 0))
        return sent


if __name__ == "__main__":
    print(flood(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                int(sys.argv[5]) if len(sys.argv) > 5 else 0), flush=True)
