"""A peer that presents another client's routing id gets nothing of that client's requests
(ownership.py): not while they run, not their stored outcome afterwards, with or without CURVE.
Routing ids never appear in the daemon's log."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import zmq
import zmq.auth
from daemon_proc import DaemonProcess

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol.client import MotionBridgeClient

TOY = ("--engine-factory", "toy_engine:make_engine", "--engine-option", "step_s=0.1")  # 1 s per take
SPEC = {"prompt": "A person hands over a parcel.", "duration_s": 1.0, "seeds": [0, 1]}


def _thief(endpoint: str, routing_id: bytes, curve: tuple[bytes, bytes, bytes] | None = None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.ROUTING_ID, routing_id)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve
    sock.connect(endpoint)
    return sock


def _listen(sock: zmq.Socket, seconds: float) -> list[P.Message]:
    out = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if sock.poll(int(left * 1000)):
            out.append(P.decode(sock.recv_multipart(), allowed=P.DAEMON_COMMANDS, max_bytes=P.MAX_REPLY_BYTES))
    return out


def _steal(d: DaemonProcess, victim: MotionBridgeClient, curve=None, secret: str | None = None) -> None:
    """The victim runs a request; another peer (with `secret`, if given) tries to cancel it; a
    thief holding its routing id listens, cancels it and, once it has ended, asks for it again."""
    handle = victim.generate(**SPEC)
    deadline = time.monotonic() + 10.0
    while not any(e.kind == "progress" for e in handle.poll(0.2)):  # running, on its connection
        assert time.monotonic() < deadline
    rid, routing_id = handle.request_id, victim._io.routing_id
    extra = {"secret": secret} if secret else {}
    canceller = _thief(d.endpoint, b"other-" + os.urandom(6).hex().encode(), curve)  # its own connection
    try:
        canceller.send_multipart(P.encode(P.Message(P.CANCEL, {"id": rid, **extra})))
        refused = [m for m in _listen(canceller, 1.0) if m.command == P.ERROR]
        assert refused and refused[0].header["code"] == P.E_UNKNOWN_REQUEST, "another owner cancelled it"
    finally:
        canceller.close(0)
    thief = _thief(d.endpoint, routing_id, curve)
    try:
        thief.send_multipart(P.encode(P.Message(P.CANCEL, {"id": rid, **extra})))
        during = _listen(thief, 1.5)
        clips = handle.wait(10.0)  # neither cancelled nor lost
        assert [c.metadata["seed"] for c in clips] == [0, 1]
        assert not [m for m in during if m.command in (P.PROGRESS, P.RESULT, P.ACCEPTED)], \
            [m.command for m in during]
    finally:
        thief.close(0)
    victim.close()  # the victim has gone; its outcome is stored for its own resend
    time.sleep(0.5)  # its routing id is free again
    replays = len(d.events("replayed"))
    thief = _thief(d.endpoint, routing_id, curve)
    try:
        thief.send_multipart(P.encode(P.Message(P.GENERATE, {"id": rid, **SPEC, **extra})))
        after = _listen(thief, 3.0)
    finally:
        thief.close(0)
    accepted = [m for m in after if m.command == P.ACCEPTED]
    assert accepted and not accepted[0].header.get("replay"), "the victim's stored outcome was replayed"
    assert len(d.events("replayed")) == replays
    log = d.stderr_text()
    assert routing_id.decode() not in log and routing_id.hex() not in log, "a routing id reached the log"


def test_without_curve_a_routing_id_thief_gets_nothing():
    d = DaemonProcess(*TOY)
    try:
        _steal(d, MotionBridgeClient(d.endpoint, timeout_s=5.0))
    finally:
        assert d.stop() == 0


def _keys(*args: str) -> None:
    out = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "keys", "new", *args],
                         capture_output=True, text=True, env=os.environ, timeout=60)
    assert out.returncode == 0, out.stderr


def test_under_curve_another_allowed_key_gets_nothing_even_with_the_routing_id_and_secret(tmp_path):
    curve = tmp_path / "daemon"
    _keys("server", "--dir", str(curve))
    _keys("alice", "--dir", str(tmp_path / "alice"), "--allow-in", str(curve))
    _keys("bob", "--dir", str(tmp_path / "bob"), "--allow-in", str(curve))  # allowed, but not alice
    d = DaemonProcess(*TOY, "--curve-dir", str(curve))
    try:
        alice = MotionBridgeClient(d.endpoint, server_public_key=curve / "server.key",
                                   client_keys=tmp_path / "alice", timeout_s=5.0)
        server_public, _ = zmq.auth.load_certificate(str(curve / "server.key"))
        bob_public, bob_secret = zmq.auth.load_certificate(str(tmp_path / "bob" / "bob.key_secret"))
        # bob has even learnt alice's secret: the daemon still tells them apart by their keys
        _steal(d, alice, curve=(server_public, bob_public, bob_secret), secret=alice._secret)
    finally:
        assert d.stop() == 0


def test_a_client_that_sends_no_secret_is_still_served():
    """Older clients send no secret: they are known by their routing id (PROTOCOL.md)."""
    d = DaemonProcess(*TOY)
    sock = _thief(d.endpoint, b"old-client-" + os.urandom(4).hex().encode())
    try:
        sock.send_multipart(P.encode(P.Message(P.GENERATE, {"id": "old-1", **SPEC})))
        deadline = time.monotonic() + 15.0
        results: list[P.Message] = []
        while len(results) < 2 and time.monotonic() < deadline:
            results += [m for m in _listen(sock, 0.5) if m.command == P.RESULT]
        assert sorted(m.header["seed"] for m in results) == [0, 1]
    finally:
        sock.close(0)
        assert d.stop() == 0
