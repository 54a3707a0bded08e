"""The worker link (link.py) over a real ZeroMQ PAIR: a take goes from worker to server as the
RESULT its client gets, and the server only re-addresses it."""

from __future__ import annotations

import numpy as np
import pytest
import zmq

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol import link as L
from motionbridge.daemon.protocol.payload import clip_from_message, result_message
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import smplx_skeleton


@pytest.fixture
def pair():
    ctx = zmq.Context()
    server, worker = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    server.bind("inproc://link-test")
    worker.connect("inproc://link-test")
    yield server, worker
    server.close(0)
    worker.close(0)
    ctx.term()


def test_a_take_reaches_the_client_as_the_worker_built_it(pair):
    server, worker = pair
    rng = np.random.default_rng(2)
    clip = Clip(smplx_skeleton(), quat.from_axis_angle(rng.normal(size=(5, 55, 3))), rng.normal(size=(5, 3)), 30, {"seed": 4})
    built = result_message("job-key-7", 4, 1, clip, warnings=["w"])
    L.link_send(worker, built.command, {**built.header, "batch": 3}, built.arrays)
    on_link = L.link_recv(server)
    assert on_link.command == P.RESULT and on_link.header["batch"] == 3 and on_link.header["id"] == "job-key-7"
    sent = L.for_client(on_link, "client-id")
    assert sent.command == P.RESULT and "batch" not in sent.header
    assert sent.header == {**built.header, "id": "client-id"}
    got = clip_from_message(P.decode(P.encode(sent), allowed=P.DAEMON_COMMANDS, max_bytes=P.MAX_REPLY_BYTES))
    assert np.array_equal(got.rotations, clip.rotations) and np.array_equal(got.root_translation, clip.root_translation)


def test_the_link_refuses_commands_it_does_not_know(pair):
    server, worker = pair
    L.link_send(worker, "TAKE", {"batch": 1})  # the old name of a worker's RESULT
    with pytest.raises(P.ProtocolError, match="unknown command"):
        L.link_recv(server)
    assert L.LINK_COMMANDS == {"RUN", "CANCEL", "STOP", "READY", "STEP", "PROGRESS", "RESULT", "DONE", "OOM", "FAIL", "COMPILES"}


def test_the_server_passes_a_takes_arrays_on_as_received(pair):
    """Each copy of a take's 270 kB a seed cost the daemon's overhead: the relayed RESULT keeps
    the frames the link received, and the client's frames are those same frames."""
    server, worker = pair
    clip = Clip(smplx_skeleton(), quat.from_axis_angle(np.zeros((150, 55, 3))), np.zeros((150, 3)), 30, {})
    built = result_message("job-key-8", 0, 0, clip)
    L.link_send(worker, built.command, {**built.header, "batch": 1}, built.arrays)
    on_link = L.link_recv(server)
    assert on_link.arrays == {} and [spec[0] for spec, _ in on_link.raw] == list(built.arrays)
    received = [frame for _, frame in on_link.raw]
    assert all(isinstance(f, zmq.Frame) for f in received)
    out = P.encode(L.for_client(on_link, "client-id"))
    assert all(a is b for a, b in zip(out[3:], received)) and len(out) == 3 + len(received)
    # a link message that is not passed on (RUN: a directed request's controls) is decoded as before
    L.link_send(server, L.RUN, {"batch": 2}, {"keys.rotations": np.ones((2, 22, 4))})
    run = L.link_recv(worker)
    assert run.raw == [] and np.array_equal(run.arrays["keys.rotations"], np.ones((2, 22, 4)))
