"""BUSY's retry hint follows the load: the waiting requests, the time a request takes, the workers."""

from __future__ import annotations

import pytest

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.server.scheduler import Job
from motionbridge.daemon.server.server import Server, ServerConfig


@pytest.fixture
def make_server():
    made = []

    def make(workers: int = 1) -> Server:
        server = Server(ServerConfig(bind="tcp://127.0.0.1:*", gpus=[None] * workers, max_queue=64))
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _queue(server: Server, waiting: int) -> None:
    for k in range(waiting):
        spec = P.parse_generate({"id": f"r{k}", "prompt": "A person waits."})
        server.scheduler.submit(Job(b"client", spec, 0.0))


def test_the_hint_grows_with_the_queue_and_the_time_a_request_takes(make_server):
    server = make_server()
    _queue(server, 4)
    assert server._retry_after() == 8.0  # no request has ended yet: 2 s each is assumed
    for seconds in (3.0, 5.0):
        server.metrics.observe("request_seconds", seconds)
    assert server._retry_after() == 16.0  # 4 waiting x 4 s
    _queue(server, 4)
    assert server._retry_after() == 32.0


def test_more_workers_shorten_the_hint_and_it_never_drops_below_a_second(make_server):
    one, two = make_server(1), make_server(2)
    for server in (one, two):
        _queue(server, 6)
        server.metrics.observe("request_seconds", 3.0)
    assert (one._retry_after(), two._retry_after()) == (18.0, 9.0)
    idle = make_server()
    idle.metrics.observe("request_seconds", 0.01)
    assert idle._retry_after() == 1.0
