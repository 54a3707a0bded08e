"""The client's I/O thread (client_io.py) against a scripted daemon: a bare ROUTER socket in the
test, so each case decides exactly which messages the client sees and when.

Lazy Pirate: silence past timeout_s makes the client reconnect under a fresh routing id and
resend with the same secret (the daemon knows its requests by that); the daemon's HEARTBEATs keep an accepted request from being resent; a RESULT that
arrives twice (the daemon re-sends results after a reconnect) reaches the caller once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol import payload
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import smplx_skeleton

TIMEOUT_S = 0.3


class ScriptedDaemon:
    """A ROUTER like the daemon's (no ROUTER_HANDOVER: a routing id is never taken over)."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def recv(self, command: str, timeout_s: float = 5.0) -> tuple[bytes, P.Message]:
        """The next message with this command; client HEARTBEATs on the way are skipped."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if self.sock.poll(int(left * 1000)):
                client, *frames = self.sock.recv_multipart()
                msg = P.decode(frames)
                if msg.command == command:
                    return client, msg
        raise AssertionError(f"no {command} from the client within {timeout_s} s")

    def quiet_for(self, command: str, seconds: float) -> bool:
        """True if no message with this command arrives for that long."""
        try:
            self.recv(command, seconds)
        except AssertionError:
            return True
        return False

    def send(self, client: bytes, msg: P.Message) -> None:
        self.sock.send_multipart([client, *P.encode(msg)])

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def daemon():
    d = ScriptedDaemon()
    yield d
    d.close()


@pytest.fixture
def client(daemon):
    c = MotionBridgeClient(daemon.endpoint, timeout_s=TIMEOUT_S, retries=3)
    yield c
    c.close()


def _clip() -> Clip:
    rotations = quat.from_axis_angle(np.zeros((30, 55, 3)))
    return Clip(smplx_skeleton(), rotations, np.zeros((30, 3)), 30, {"seed": 0})


def test_silence_resends_with_the_same_secret_and_a_duplicate_result_counts_once(daemon, client):
    handle = client.generate("A person waves.", duration_s=1.0, seeds=(0, 1))
    first_client, first = daemon.recv(P.GENERATE)  # dropped: as if lost with a dying connection
    again_client, again = daemon.recv(P.GENERATE, timeout_s=TIMEOUT_S + 2.0)
    assert again.header["id"] == first.header["id"] == handle.request_id
    assert again_client != first_client, "a new connection gets a new routing id, never a reused one"
    assert len(again.header["secret"]) == 32 and again.header["secret"] == first.header["secret"]
    rid = handle.request_id
    daemon.send(again_client, P.Message(P.ACCEPTED, {"id": rid, "position": 0, "warnings": []}))
    daemon.send(again_client, payload.progress_message(rid, 1, 10))
    daemon.send(again_client, P.Message(P.PONG, {"id": "not-a-pending-id", "time": 0.0}))  # ignored
    first_result = payload.result_message(rid, 0, 0, _clip())
    daemon.send(again_client, first_result)
    daemon.send(again_client, first_result)  # re-sent after a reconnect
    daemon.send(again_client, payload.result_message(rid, 1, 1, _clip()))
    clips = handle.wait(5.0)
    assert len(clips) == 2 and clips[0].rotations.shape == (30, 55, 4)
    assert [e.kind for e in handle.poll()] == ["accepted", "progress", "result", "result"]


def test_daemon_heartbeats_keep_an_accepted_request_from_being_resent(daemon, client):
    handle = client.generate("A person waits.", duration_s=1.0)
    peer, msg = daemon.recv(P.GENERATE)
    rid = msg.header["id"]
    daemon.send(peer, P.Message(P.ACCEPTED, {"id": rid, "position": 0, "warnings": []}))
    for _ in range(10):  # 1 s of daemon heartbeats, over three client timeouts
        time.sleep(TIMEOUT_S / 3)
        daemon.send(peer, P.Message(P.HEARTBEAT, {}))
        assert not handle.done
    assert daemon.quiet_for(P.GENERATE, 0.1)  # nothing was resent meanwhile
    daemon.send(peer, payload.result_message(rid, 0, 0, _clip()))
    assert len(handle.wait(5.0)) == 1


def test_an_accepted_request_is_resent_when_the_daemon_goes_silent(daemon, client):
    handle = client.generate("A person waits.", duration_s=1.0)
    peer, msg = daemon.recv(P.GENERATE)
    daemon.send(peer, P.Message(P.ACCEPTED, {"id": msg.header["id"], "position": 0, "warnings": []}))
    t0 = time.monotonic()
    _, again = daemon.recv(P.GENERATE, timeout_s=TIMEOUT_S + 2.0)
    assert again.header["id"] == handle.request_id and time.monotonic() - t0 >= TIMEOUT_S - 0.05


def test_a_call_gets_its_own_reply_and_unreachable_after_the_retries(daemon):
    with MotionBridgeClient(daemon.endpoint, timeout_s=TIMEOUT_S, retries=1) as c:
        answered: dict = {}
        caller = threading.Thread(target=lambda: answered.setdefault("status", c.status()))
        caller.start()
        peer, msg = daemon.recv(P.STATUS)
        daemon.send(peer, P.Message(P.STATUS, {"id": "someone-else", "running": 9}))  # not ours: ignored
        daemon.send(peer, P.Message(P.STATUS, {"id": msg.header["id"], "running": 1}))
        caller.join(5.0)
        assert answered["status"]["running"] == 1
        t0 = time.monotonic()
        with pytest.raises(ClientError) as err:  # the daemon reads the PINGs and never answers
            c.ping()
        assert err.value.code == P.E_UNREACHABLE
        assert time.monotonic() - t0 < TIMEOUT_S * 2 + 1.0
