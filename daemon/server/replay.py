"""Outcomes of ended requests, kept a while for Lazy Pirate resends.

A client that reconnects while its last RESULTs are in flight loses them with the old
connection, then resends its GENERATE. Rerunning would cost a whole generation; replaying
the remembered RESULT (or final ERROR) messages costs nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from motionbridge.daemon.protocol import frames as P


def _size(messages: list[P.Message]) -> int:
    return sum(sum(a.nbytes for a in m.arrays.values()) + sum(len(f) for _, f in m.raw) + 1024 for m in messages)


class ReplayCache:
    def __init__(self, max_bytes: int = 256 * 1024 * 1024, ttl_s: float = 300.0):
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[bytes, str], tuple[float, int, list[P.Message]]] = OrderedDict()
        self._bytes = 0

    def put(self, key: tuple[bytes, str], messages: list[P.Message]) -> None:
        size = _size(messages)
        if size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = (time.monotonic(), size, messages)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def get(self, key: tuple[bytes, str]) -> list[P.Message] | None:
        self._expire()
        entry = self._entries.get(key)
        return None if entry is None else entry[2]

    def _drop(self, key: tuple[bytes, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]

    def _expire(self) -> None:
        now = time.monotonic()
        while self._entries:
            key, (at, _, _) = next(iter(self._entries.items()))
            if now - at <= self.ttl_s:
                return
            self._drop(key)
