"""The client's I/O thread: it owns the ZeroMQ DEALER socket, matches the daemon's replies to
pending requests, and runs the Lazy Pirate resend (see client.py).

`ClientIoLoop.run` is the only code that touches the socket; `MotionBridgeClient` (the caller
side) talks to it through the command queue only:
    ("call", rid, Pending)             send a request that gets one reply (HELLO, PING, STATUS)
    ("send", frames, rid, handle)      send a GENERATE whose events go to a RequestHandle
    ("cancel", rid)                    send CANCEL if the request is still pending
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import zmq

from . import frames as P
from .payload import clip_from_message, previews_from_message

_TICK_S = 0.02  # I/O thread poll granularity: its timers (heartbeat, resend); commands wake it at once (wake())


@dataclass
class Event:
    """One thing that happened to a GENERATE: a daemon reply, or a failure on the client's side."""

    kind: str  # "accepted" | "progress" | "preview" | "result" | "error" | "busy"
    data: dict
    clip: Any = None  # rigs.Clip for "result"; the first seed's preview for "preview"
    clips: list | None = None  # every seed's preview for "preview"


class EventSink(Protocol):
    """Where a GENERATE's events go: client.RequestHandle (named here by its shape, so this
    module does not import client.py, which imports it)."""

    @property
    def done(self) -> bool: ...

    def _emit(self, event: Event) -> None: ...


class Pending:
    """The I/O thread's record of one outstanding request: its frames, kept for resending, and
    where its answer goes (a RequestHandle, or `reply` + `replied` for a one-reply call)."""

    def __init__(self, frames: list[bytes], handle: EventSink | None = None):
        self.frames = frames
        self.handle = handle
        self.reply: P.Message | None = None
        self.replied = threading.Event()
        self.sent_at = 0.0
        self.tries = 0
        self.accepted = False


class ClientIoLoop:
    """The state of the client's I/O thread; `run` is the thread's body."""

    def __init__(self, endpoint: str, *, timeout_s: float, retries: int, curve: tuple[bytes, bytes, bytes] | None,
                 secret: str, context: zmq.Context, commands: queue.Queue, closed: threading.Event):
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.retries = retries
        self.heartbeat_s = 1.0  # until HELLO tells the daemon's
        self._curve = curve  # (server public, client public, client secret), or None for plain TCP
        self._secret = secret  # in every message: what the daemon knows this client by
        self.routing_id = b""  # of the current socket; fresh for each, never reused
        self._ctx = context
        self._commands = commands
        self._closed = closed
        self._pending: dict[str, Pending] = {}
        # a command wakes the I/O thread out of its poll: before, it waited for the next tick
        # (up to 20 ms, 10 on average, added to every request's round trip)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def wake(self) -> None:
        """Any thread: a command was queued. A full buffer means a wake-up is already pending."""
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:  # BlockingIOError: nothing more
            pass

    def _open(self) -> zmq.Socket:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        self.routing_id = b"mbc-" + os.urandom(12).hex().encode()
        sock.setsockopt(zmq.ROUTING_ID, self.routing_id)
        sock.setsockopt(zmq.SNDTIMEO, 0)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        sock.setsockopt(zmq.MAXMSGSIZE, P.MAX_REPLY_BYTES)
        if self._curve is not None:
            server_pub, pub, sec = self._curve
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = server_pub, pub, sec
        self._monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        sock.connect(self.endpoint)
        return sock

    def _close_socket(self, sock: zmq.Socket) -> None:
        try:
            sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(0)
        sock.close(0)

    def _send(self, sock: zmq.Socket, pending: Pending) -> None:
        pending.sent_at = time.monotonic()
        pending.tries += 1
        try:
            sock.send_multipart(pending.frames, flags=zmq.NOBLOCK)
        except zmq.Again:  # not connected yet; the resend timer will try again
            pass

    def _fail(self, rid: str, pending: Pending, code: str, message: str) -> None:
        self._pending.pop(rid, None)
        err = P.Message(P.ERROR, {"id": rid, "code": code, "message": message})
        if pending.handle is not None:
            pending.handle._emit(Event("error", err.header))
        else:
            pending.reply = err
            pending.replied.set()

    def run(self) -> None:
        sock = self._open()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        last_heartbeat = time.monotonic()
        try:
            while not self._closed.is_set():
                self._drain_wake()
                self._drain_commands(sock)
                events = dict(poller.poll(int(_TICK_S * 1000)))
                if self._monitor in events:
                    self._on_monitor()
                while sock in events and sock.poll(0):
                    self._on_reply(sock.recv_multipart(copy=False))  # decode copies a take's arrays once
                now = time.monotonic()
                if self._pending and now - last_heartbeat > self.heartbeat_s:
                    last_heartbeat = now
                    try:
                        sock.send_multipart(P.encode(P.Message(P.HEARTBEAT, {"secret": self._secret})),
                                            flags=zmq.NOBLOCK)
                    except zmq.Again:
                        pass
                if self._lazy_pirate_due(now):
                    if any(p.tries > self.retries for p in self._pending.values()):
                        for rid, p in list(self._pending.items()):
                            if p.tries > self.retries:
                                self._fail(rid, p, P.E_UNREACHABLE, f"no answer from the daemon at {self.endpoint} "
                                           f"({p.tries} tries, {self.timeout_s:g} s each); is `motionbridge "
                                           "serve` running there, and reachable?")
                    poller.unregister(sock)
                    poller.unregister(self._monitor)
                    self._close_socket(sock)
                    sock = self._open()
                    poller.register(sock, zmq.POLLIN)
                    poller.register(self._monitor, zmq.POLLIN)
                    for p in self._pending.values():
                        self._send(sock, p)
        finally:
            self._drain_commands(sock)  # a cancel queued just before close() still goes out
            for rid, p in list(self._pending.items()):
                self._fail(rid, p, P.E_CLOSED, "client closed before the daemon answered")
            self._close_socket(sock)
            self._wake_r.close()
            self._wake_w.close()

    def _lazy_pirate_due(self, now: float) -> bool:
        """True when something pending has heard nothing for timeout_s (replies reset sent_at)."""
        return any(now - p.sent_at > self.timeout_s for p in self._pending.values())

    def _drain_commands(self, sock: zmq.Socket) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if cmd[0] == "call":
                _, rid, pending = cmd
                self._pending[rid] = pending
                self._send(sock, pending)
            elif cmd[0] == "send":
                _, frames, rid, handle = cmd
                pending = Pending(frames, handle)
                self._pending[rid] = pending
                self._send(sock, pending)
            elif cmd[0] == "cancel":
                rid = cmd[1]
                if rid in self._pending:
                    try:
                        sock.send_multipart(P.encode(P.Message(P.CANCEL, {"id": rid, "secret": self._secret})),
                                            flags=zmq.NOBLOCK)
                    except zmq.Again:
                        pass

    def _on_monitor(self) -> None:
        from zmq.utils.monitor import recv_monitor_message

        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                for rid, p in list(self._pending.items()):
                    self._fail(rid, p, P.E_AUTH, "the daemon refused this client's CURVE key; ask its admin to "
                               "add your public key to the daemon's clients/ folder")

    def _on_reply(self, frames: list[Any]) -> None:  # bytes, or zmq Frames (recv_multipart(copy=False))
        try:
            msg = P.decode(frames, allowed=P.DAEMON_COMMANDS, max_bytes=P.MAX_REPLY_BYTES)
        except P.ProtocolError:
            return  # a daemon speaking another version: the resend timer ends up failing the request
        rid = msg.header.get("id")
        pending = self._pending.get(rid) if isinstance(rid, str) else None
        if msg.command == P.HEARTBEAT:
            for p in self._pending.values():  # the daemon is alive: keep running requests pending
                if p.accepted:
                    p.sent_at = time.monotonic()
            return
        if pending is None:
            return
        pending.sent_at = time.monotonic()
        pending.tries = 0 if pending.handle is not None else pending.tries
        handle = pending.handle
        if handle is None:
            self._pending.pop(str(rid), None)
            pending.reply = msg
            pending.replied.set()
            return
        try:
            event = event_of(msg)
        except P.ProtocolError as exc:
            event = Event("error", {"id": rid, "code": exc.code, "message": f"daemon sent a bad {msg.command}: {exc}"})
        if event.kind == "accepted":
            pending.accepted = True
        handle._emit(event)
        if handle.done:
            self._pending.pop(str(rid), None)


def event_of(msg: P.Message) -> Event:
    """The event a daemon reply to a GENERATE becomes."""
    if msg.command == P.RESULT:
        return Event("result", msg.header, clip_from_message(msg))
    if msg.command == P.PROGRESS:
        if msg.header.get("previews"):
            clips = previews_from_message(msg)
            return Event("preview", msg.header, clips[0], clips)
        return Event("progress", msg.header)
    kinds = {P.ACCEPTED: "accepted", P.ERROR: "error", P.BUSY: "busy"}
    if msg.command not in kinds:
        raise P.ProtocolError(P.E_BAD_COMMAND, f"unexpected {msg.command} for a request")
    return Event(kinds[msg.command], msg.header)
