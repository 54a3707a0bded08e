"""What the daemon sends to clients: never a blocking send, one bounded queue per client.

A client that does not read (a frozen DCC, or a flooder that sends PINGs and never reads its
PONGs) fills its ZeroMQ pipe up to SNDHWM; after that, sends to it would block the daemon's
only thread. Here they go to that client's own queue instead, sent in order as the client
reads. A client whose queue passes its cap is dropped: the queue is discarded and what it
sends is ignored for `mute_s`, so a flooder costs a read per message and nothing else. While a
client is behind, a request's bare PROGRESS replaces the one queued just before it (the newer
step says what the older did), so a slow DCC watching a long take does not fill its queue.
"""

from __future__ import annotations

import time
from collections import deque

import zmq

SENT, QUEUED, UNREACHABLE, DROPPED, MUTED = "sent", "queued", "unreachable", "dropped", "muted"


class Outbox:
    def __init__(self, router: zmq.Socket, max_messages: int = 1000, max_bytes: int = 128 * 1024 * 1024,
                 mute_s: float = 10.0):
        self.router = router
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.mute_s = mute_s
        self._queues: dict[bytes, deque[tuple[object, list]]] = {}  # client -> (coalescing key or None, frames)
        self._bytes: dict[bytes, int] = {}
        self._muted: dict[bytes, float] = {}  # dropped client -> until when its messages are ignored
        self.dropped_total = 0

    def send(self, client: bytes, frames: list, coalesce: object = None) -> str:
        """SENT; QUEUED (the client is slow: it goes out in order later); UNREACHABLE (no such
        connection); DROPPED (this message took its queue past the cap: the client is now muted);
        MUTED (dropped earlier and still muted: not sent). `coalesce`: a key under which this
        message replaces the message queued last, if that one was queued under the same key."""
        if self.muted(client):
            return MUTED
        queue = self._queues.get(client)
        if queue is None:
            result = self._try(client, frames)
            if result != QUEUED:
                return result
            queue = self._queues[client] = deque()
            self._bytes[client] = 0
        elif coalesce is not None and queue and queue[-1][0] == coalesce:
            self._bytes[client] -= sum(len(f) for f in queue.pop()[1])
        queue.append((coalesce, frames))
        self._bytes[client] += sum(len(f) for f in frames)
        if len(queue) > self.max_messages or self._bytes[client] > self.max_bytes:
            self.drop(client)
            return DROPPED
        return QUEUED

    def flush(self) -> list[bytes]:
        """Sends what the slow clients can take now; returns the clients found unreachable."""
        gone = []
        for client in list(self._queues):
            queue = self._queues[client]
            while queue:
                result = self._try(client, queue[0][1])
                if result == QUEUED:
                    break
                _, frames = queue.popleft()
                self._bytes[client] -= sum(len(f) for f in frames)
                if result == UNREACHABLE:
                    gone.append(client)
                    break
            if client in gone or not queue:
                self._forget(client)
        return gone

    def muted(self, client: bytes) -> bool:
        until = self._muted.get(client)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        del self._muted[client]
        return False

    def drop(self, client: bytes) -> None:
        self._forget(client)
        self._muted[client] = time.monotonic() + self.mute_s
        self.dropped_total += 1
        if len(self._muted) > 10_000:  # many short-lived flooders: forget the oldest mutes
            for key in list(self._muted)[:5_000]:
                del self._muted[key]

    def pending(self, client: bytes) -> int:
        queue = self._queues.get(client)
        return len(queue) if queue else 0

    def _forget(self, client: bytes) -> None:
        self._queues.pop(client, None)
        self._bytes.pop(client, None)

    def _try(self, client: bytes, frames: list[bytes]) -> str:
        try:
            # copy=False: a relayed take's frames go out as received (small frames are copied anyway)
            self.router.send_multipart([client, *frames], flags=zmq.NOBLOCK, copy=False)
            return SENT
        except zmq.Again:  # its pipe is at SNDHWM: it is not reading
            return QUEUED
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:  # ROUTER_MANDATORY: no connection with this routing id
                return UNREACHABLE
            raise
