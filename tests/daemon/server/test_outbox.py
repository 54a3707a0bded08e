"""The daemon's per-client send queues (outbox.py) on a real ROUTER/DEALER pair over loopback TCP.

The ROUTER here waits up to 2 s in a blocking send, so an outbox that ever waited on a client
that does not read would take minutes: each scenario runs in a thread that must finish in 20 s.
"""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from motionbridge.daemon.server.outbox import DROPPED, MUTED, QUEUED, SENT, UNREACHABLE, Outbox


@pytest.fixture
def pair():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.setsockopt(zmq.SNDHWM, 10)
    router.setsockopt(zmq.SNDBUF, 4096)  # small kernel buffers: a client that does not read fills them at once
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDTIMEO, 2000)
    router.bind("tcp://127.0.0.1:*")
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.RCVHWM, 1)
    dealer.setsockopt(zmq.RCVBUF, 4096)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(router.getsockopt_string(zmq.LAST_ENDPOINT))
    dealer.send(b"hello")
    assert router.poll(5000)
    client = router.recv_multipart()[0]
    yield router, dealer, client
    dealer.close(0)
    router.close(0)
    ctx.term()


def _in_thread(fn, timeout: float = 20.0):
    """fn(stop) in a thread; fails if it has not returned after `timeout` (then stops it)."""
    out: list = []
    stop = threading.Event()
    t = threading.Thread(target=lambda: out.append(fn(stop)), daemon=True)
    t.start()
    t.join(timeout)
    stop.set()
    alive = t.is_alive()
    t.join(10.0)  # let it leave the socket before the fixture closes it
    assert not alive, "a send waited on a client that does not read"
    return out[0]


def test_a_client_that_never_reads_is_queued_then_dropped_never_waited_on(pair):
    router, _, client = pair
    outbox = Outbox(router, max_messages=50, mute_s=60.0)

    def flood(stop):
        results = []
        while len(results) < 100_000 and not stop.is_set():
            results.append(outbox.send(client, [b"x" * 1024]))
            if results[-1] == DROPPED:
                break
        return results

    results = _in_thread(flood)
    assert results[0] == SENT and results[-1] == DROPPED
    assert results.count(QUEUED) == 50  # the cap: 50 queued, the 51st drops the client
    assert outbox.pending(client) == 0 and outbox.muted(client)
    assert outbox.send(client, [b"later"]) == MUTED
    assert outbox.flush() == []


def test_a_slow_client_gets_every_message_once_in_order(pair):
    router, dealer, client = pair
    outbox = Outbox(router, max_messages=10_000)
    count = 3000
    results = _in_thread(lambda stop: [outbox.send(client, [b"%d" % k + b" " * 1000]) for k in range(count)
                                         if not stop.is_set()])
    assert QUEUED in results and DROPPED not in results  # it had to queue: the pipe and buffers are small
    got = []
    deadline = time.monotonic() + 30.0
    while len(got) < count and time.monotonic() < deadline:
        assert _in_thread(lambda stop: outbox.flush()) == []
        while dealer.poll(10):
            got.append(int(dealer.recv().split()[0]))
    assert got == list(range(count))
    assert outbox.pending(client) == 0


def test_an_unknown_client_is_unreachable(pair):
    router, _, _ = pair
    assert Outbox(router).send(b"\0no-such-client", [b"x"]) == UNREACHABLE


def test_a_slow_client_gets_a_requests_newest_progress_not_each_step(pair):
    """While a client is behind, bare PROGRESS of one request and stage replaces the one queued
    just before it; anything else (another stage, a RESULT, another request) keeps its place."""
    router, dealer, client = pair
    outbox = Outbox(router, max_messages=100)

    def fill(stop):
        sent = 0
        while outbox.send(client, [b"filler" + b" " * 1000]) != QUEUED and not stop.is_set():
            sent += 1  # until its pipe and buffers are full
        results = [outbox.send(client, [b"step %d" % k], coalesce=("job-a", "")) for k in range(1, 51)]
        results.append(outbox.send(client, [b"step 51 compiling"], coalesce=("job-a", "compiling")))
        results.append(outbox.send(client, [b"other step 1"], coalesce=("job-b", "")))
        results.append(outbox.send(client, [b"result"]))
        results += [outbox.send(client, [b"step %d" % k], coalesce=("job-a", "")) for k in (52, 53)]
        return sent, results

    sent, results = _in_thread(fill)
    assert set(results) == {QUEUED} and len(results) == 55  # none dropped (cap 100)
    assert outbox.pending(client) == 1 + 1 + 1 + 1 + 1 + 1  # filler, step 50, 51, other, result, step 53
    got = []
    deadline = time.monotonic() + 30.0
    while outbox.pending(client) and time.monotonic() < deadline:
        assert _in_thread(lambda stop: outbox.flush()) == []
        while dealer.poll(10):
            got.append(dealer.recv())
    while dealer.poll(100):
        got.append(dealer.recv())
    tail = [m for m in got if not m.startswith(b"filler")]
    assert tail == [b"step 50", b"step 51 compiling", b"other step 1", b"result", b"step 53"]
    assert len(got) - len(tail) == sent + 1  # every filler arrived, none replaced
