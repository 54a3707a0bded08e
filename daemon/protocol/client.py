"""Client of the MotionBridge daemon, for DCC Pythons, the CLI and the batch runner (no torch,
no DCC imports).

One background I/O thread (`ClientIoLoop`, client_io.py) owns the ZeroMQ DEALER socket (zmq
sockets are not thread-safe); callers talk to it through a queue and get answers through
RequestHandle events. Nothing here blocks the calling thread for longer than the timeout it
passes.

Reliability follows the ZeroMQ guide's Lazy Pirate pattern: when the daemon stays silent
past `timeout_s` while something is pending, the socket is closed and reopened (under a new
routing id) and every still-pending request is sent again, up to `retries` times; then the
pending requests fail with ClientError("unreachable"). The daemon recognises the resends by
request id and by the client's secret, sent with every message (PROTOCOL.md, "Ownership").
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from . import frames as P
from .client_io import ClientIoLoop, Event, Pending
from .frames import DEFAULT_ENDPOINT

__all__ = ["DEFAULT_ENDPOINT", "ClientError", "Event", "MotionBridgeClient", "RequestHandle"]


class ClientError(RuntimeError):
    """A request failed; `code` is stable (protocol error codes), the message is for humans."""

    def __init__(self, code: str, message: str, **details: Any):
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message
        self.details = details


class RequestHandle:
    """A GENERATE in flight. Thread-safe; events arrive from the client's I/O thread."""

    def __init__(self, client: MotionBridgeClient, request_id: str, seeds: tuple[int, ...],
                 on_event: Callable[[Event], None] | None = None):
        self.request_id = request_id
        self.seeds = seeds
        self.on_event = on_event
        self._client = client
        self._events: queue.Queue[Event] = queue.Queue()
        self._results: dict[int, Any] = {}
        self._error: ClientError | None = None
        self._done = threading.Event()
        self.step = (0, 0)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def error(self) -> ClientError | None:
        return self._error

    def poll(self, timeout_s: float = 0.0) -> list[Event]:
        """Events since the last poll; waits at most timeout_s for the first one."""
        out: list[Event] = []
        try:
            out.append(self._events.get(timeout=timeout_s) if timeout_s > 0 else self._events.get_nowait())
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            pass
        return out

    def wait(self, timeout_s: float | None = None) -> list:
        """Result clips in seed order; raises ClientError on ERROR, BUSY or timeout."""
        if not self._done.wait(timeout_s):
            raise ClientError(P.E_TIMEOUT, f"request {self.request_id} not finished after {timeout_s:g} s; "
                              "wait longer or cancel() it")
        if self._error is not None:
            raise self._error
        return [self._results[i] for i in range(len(self.seeds))]

    def cancel(self) -> None:
        if not self.done:
            self._client._submit(("cancel", self.request_id))

    # called from the I/O thread only
    def _emit(self, event: Event) -> None:
        if event.kind == "result":
            index = int(event.data["index"])
            if index in self._results:  # the daemon re-sends results after a reconnect: once is enough
                return
            self._results[index] = event.clip
        elif event.kind == "progress":
            self.step = (event.data.get("step", 0), event.data.get("total", 0))
        elif event.kind in ("error", "busy"):
            code = P.E_BUSY if event.kind == "busy" else str(event.data.get("code", P.E_ENGINE))
            self._error = ClientError(code, str(event.data.get("message", code)),
                                      retry_after_s=event.data.get("retry_after_s"))
        self._events.put(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a caller's callback must never kill the I/O thread
                pass
        if event.kind in ("error", "busy") or len(self._results) == len(self.seeds):
            self._done.set()


def _load_keys(client_keys: Any) -> tuple[bytes, bytes]:
    import zmq.auth

    if isinstance(client_keys, (tuple, list)):
        pub, sec = client_keys
        return (pub.encode() if isinstance(pub, str) else pub), (sec.encode() if isinstance(sec, str) else sec)
    path = Path(client_keys)
    if path.is_dir():
        found = sorted(path.glob("*.key_secret"))
        if len(found) != 1:
            raise ClientError(P.E_AUTH, f"{path} must hold exactly one *.key_secret file; pass the file instead")
        path = found[0]
    pub, sec = zmq.auth.load_certificate(str(path))
    if sec is None:
        raise ClientError(P.E_AUTH, f"{path} has no secret key; pass the client's .key_secret file")
    return pub, sec


def _load_public(key: Any) -> bytes:
    import zmq.auth

    if isinstance(key, bytes) and len(key) == 40:
        return key
    if isinstance(key, str) and len(key) == 40 and not os.path.exists(key):
        return key.encode()
    pub, _ = zmq.auth.load_certificate(str(key))
    return pub


class MotionBridgeClient:
    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *, server_public_key: Any = None, client_keys: Any = None,
                 timeout_s: float = 5.0, retries: int = 3, context: zmq.Context | None = None):
        if timeout_s <= 0 or retries < 0:
            raise ValueError("timeout_s must be > 0 and retries >= 0")
        self.endpoint = endpoint
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self._curve = None
        if server_public_key is not None or client_keys is not None:
            if server_public_key is None or client_keys is None:
                raise ValueError("CURVE needs both server_public_key and client_keys (public, secret) or a key file")
            self._curve = (_load_public(server_public_key), *_load_keys(client_keys))
        # sent with every request: the daemon knows this client's requests by it (with its CURVE
        # key, if any), not by the routing id, which changes with each Lazy Pirate reconnect
        self._secret = os.urandom(16).hex()
        self._controls_versions: tuple[int, ...] | None = None  # from HELLO, asked before the first directed take
        self._commands: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._io = ClientIoLoop(endpoint, timeout_s=self.timeout_s, retries=self.retries, curve=self._curve,
                                secret=self._secret, context=context or zmq.Context.instance(),
                                commands=self._commands, closed=self._closed)
        self._thread = threading.Thread(target=self._io.run, name="motionbridge-client-io", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public API

    def hello(self, timeout_s: float | None = None) -> dict:
        reply = self._call(P.HELLO, {"client": "motionbridge-client", "protocol": P.PROTOCOL_VERSION}, timeout_s)
        self._io.heartbeat_s = float(reply.header.get("heartbeat_s", self._io.heartbeat_s))
        return reply.header

    def ping(self, timeout_s: float | None = None) -> float:
        t0 = time.perf_counter()
        self._call(P.PING, {}, timeout_s)
        return time.perf_counter() - t0

    def status(self, timeout_s: float | None = None) -> dict:
        return self._call(P.STATUS, {}, timeout_s).header

    def generate(self, prompt: str, duration_s: float = 5.0, seeds: Iterable[int] = (0,), cfg: float = 5.0,
                 model: str | None = None, preview_every: int = 0, priority: str = "interactive",
                 on_event: Callable[[Event], None] | None = None,
                 controls: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None, **options: Any) -> RequestHandle:
        """Sends GENERATE and returns at once; bad input raises ValueError before anything is sent.

        `controls`: a directed take's field and arrays (daemon/controls/wire.py `to_wire`). The
        daemon must list their version in HELLO's 'controls' (asked once, here); one that does
        not is never sent them: ValueError instead."""
        if isinstance(seeds, int):
            seeds = (seeds,)
        header = {"id": P.new_id(), "prompt": prompt, "duration_s": duration_s, "seeds": list(seeds), "cfg": cfg,
                  "model": model, "preview_every": preview_every, "priority": priority, **options}
        arrays: dict[str, np.ndarray] = {}
        if controls is not None:
            header["controls"], arrays = controls
            self._check_controls_supported()
        try:
            spec = P.parse_generate(header)
        except P.ProtocolError as exc:
            raise ValueError(exc.message) from None
        handle = RequestHandle(self, spec.id, spec.seeds, on_event)
        frames = P.encode(P.Message(P.GENERATE, {**spec.to_header(), "secret": self._secret}, arrays))
        self._submit(("send", frames, spec.id, handle))
        return handle

    def _check_controls_supported(self) -> None:
        if self._controls_versions is None:
            versions = self.hello().get("controls", [])
            self._controls_versions = tuple(v for v in versions if isinstance(v, int)) if isinstance(versions, list) else ()
        if P.CONTROLS_VERSION not in self._controls_versions:
            raise ValueError(f"the daemon at {self.endpoint} does not take directed takes (its HELLO lists controls versions "
                             f"{list(self._controls_versions)}, this client sends {P.CONTROLS_VERSION}); update the daemon or run in-process")

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._io.wake()
            self._thread.join(timeout=2.0)

    def __enter__(self) -> MotionBridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ caller side

    def _submit(self, command: tuple) -> None:
        if self._closed.is_set():
            raise ClientError(P.E_CLOSED, "client is closed; create a new MotionBridgeClient")
        self._commands.put(command)
        self._io.wake()

    def _call(self, command: str, header: dict, timeout_s: float | None) -> P.Message:
        rid = P.new_id()
        pending = Pending(P.encode(P.Message(command, {**header, "id": rid, "secret": self._secret})))
        self._submit(("call", rid, pending))
        total = (timeout_s or self.timeout_s) * (self.retries + 1) + 0.5
        if not pending.replied.wait(total):
            raise ClientError(P.E_UNREACHABLE, f"no answer from the daemon at {self.endpoint} after {total:.1f} s; "
                              "is `motionbridge serve` running there?")
        reply = pending.reply
        assert reply is not None
        if reply.command == P.ERROR:
            raise ClientError(str(reply.header.get("code")), str(reply.header.get("message")))
        return reply
