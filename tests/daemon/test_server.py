"""The daemon as a real subprocess on loopback, driven by the real client library.

These use the small numpy test engine (tests/daemon/toy_engine.py) where a test needs
control the tiny model cannot give (a fixed step time, a simulated OOM); the tiny parity
model runs through the daemon in test_end_to_end.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest
import zmq
from daemon_proc import DaemonProcess
from toy_engine import ToyEngine

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient

TOY = ("--engine-factory", "toy_engine:make_engine")


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


@pytest.fixture(scope="module")
def toy():
    d = DaemonProcess(*TOY, "--engine-option", "step_s=0.05", "--metrics-port", "0", "--max-queue", "32")
    d.metrics_port = int(d.wait_for("metrics", 10)[0]["url"].rsplit(":", 1)[1].split("/")[0])
    yield d
    assert d.stop() == 0


@pytest.fixture
def client(toy):
    c = MotionBridgeClient(toy.endpoint, timeout_s=2.0, retries=2)
    yield c
    c.close()


def test_hello_ping_status(client):
    hello = client.hello()
    assert hello["protocol"] == 1 and hello["model"] == "toy" and hello["rotation_order"] == "xyzw"
    assert hello["limits"]["max_seeds"] == 64
    assert 0 < client.ping() < 2.0
    status = client.status()
    assert status["workers"][0]["ready"] and status["draining"] is False


def test_concurrent_clients_match_in_process_bit_for_bit_and_get_batched(toy):
    engine = ToyEngine(step_s=0)
    jobs = [("A person walks.", (0, 1)), ("A person jumps.", (5,)), ("A person waves.", (2, 3)), ("A person sits.", (9,))]
    clients = [MotionBridgeClient(toy.endpoint, timeout_s=2.0) for _ in jobs]
    try:
        blocker = clients[0].generate("A person stands.", duration_s=2.0)
        deadline = time.monotonic() + 5
        while not any(e.kind == "progress" for e in blocker.poll(0.5)) and time.monotonic() < deadline:
            pass
        batches_before = len(toy.events("batch"))
        handles = [c.generate(p, duration_s=2.0, seeds=s) for c, (p, s) in zip(clients, jobs)]
        results = [h.wait(10.0) for h in handles]
        blocker.wait(10.0)
    finally:
        for c in clients:
            c.close()
    for (prompt, seeds), clips in zip(jobs, results):
        expected = engine.generate([GenerationRequest(prompt, 2.0, seeds, request_id="x")])
        assert len(clips) == len(seeds)
        for clip, take in zip(clips, expected):
            assert clip.metadata["seed"] == take.seed
            assert clip.rotations.tobytes() == take.clip.rotations.tobytes()
            assert clip.root_translation.tobytes() == take.clip.root_translation.tobytes()
    # the four waited behind the blocker and ran as one engine batch
    after = toy.events("batch")[batches_before:]
    assert [b["requests"] for b in after] == [4] and after[0]["rows"] == 6


def test_progress_and_previews_stream(client):
    handle = client.generate("A person turns.", duration_s=1.0, seeds=(0, 1), preview_every=5)
    clips = handle.wait(10.0)
    events = handle.poll()
    kinds = [e.kind for e in events]
    assert kinds[0] == "accepted" and kinds.count("result") == 2 and kinds.count("preview") == 2
    steps = [e.data["step"] for e in events if e.kind in ("progress", "preview")]
    assert steps == list(range(1, 11))
    preview = next(e for e in events if e.kind == "preview")
    assert len(preview.clips) == 2 and preview.clip.rotations.shape == clips[0].rotations.shape


def test_cancel_mid_request_stops_it_and_daemon_keeps_serving(toy, client):
    cancelled_before = _metric(toy.metrics_port, "motionbridge_cancelled_total")
    handle = client.generate("A person runs.", duration_s=2.0)
    deadline = time.monotonic() + 5
    seen = []
    while not any(e.kind == "progress" for e in seen) and time.monotonic() < deadline:
        seen += handle.poll(0.5)
    handle.cancel()
    with pytest.raises(ClientError) as err:
        handle.wait(5.0)
    assert err.value.code == P.E_CANCELLED
    seen += handle.poll()
    steps = [e.data["step"] for e in seen if e.kind == "progress"]
    assert steps and max(steps) < 10, "the cancel landed between Euler steps, not after the batch"
    assert not any(e.kind == "result" for e in seen)
    assert _metric(toy.metrics_port, "motionbridge_cancelled_total") == cancelled_before + 1
    assert len(client.generate("A person runs.", duration_s=1.0).wait(10.0)) == 1


def test_bad_input_is_refused_before_sending(client):
    with pytest.raises(ValueError, match="empty"):
        client.generate("   ")
    with pytest.raises(ValueError, match="seeds"):
        client.generate("walk", seeds=list(range(65)))


def test_malformed_messages_get_error_codes_and_metrics(toy):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(toy.endpoint)
    try:
        cases = [([b"MB99", b"PING", b"\x80"], P.E_BAD_VERSION), ([P.VERSION, b"NOPE", b"\x80"], P.E_BAD_COMMAND),
                 ([P.VERSION, b"CANCEL", b"\x81\xa2id\xa1z"], P.E_UNKNOWN_REQUEST),
                 (P.encode(P.Message(P.GENERATE, {"id": "g", "prompt": "walk", "seeds": [-3]})), P.E_BAD_REQUEST)]
        for frames, code in cases:
            sock.send_multipart(frames)
            assert sock.poll(5000)
            reply = P.decode(sock.recv_multipart(), allowed=P.DAEMON_COMMANDS)
            assert reply.command == P.ERROR and reply.header["code"] == code
    finally:
        sock.close()
    text = urllib.request.urlopen(f"http://127.0.0.1:{toy.metrics_port}/metrics", timeout=5).read().decode()
    assert 'motionbridge_errors_total{code="bad_version"}' in text
    for name in ("requests_running", "requests_waiting", "queue_seconds_count", "request_seconds_count",
                 "batch_size_count", "oom_total", "cancelled_total"):
        assert f"motionbridge_{name} " in text


CLIENT_THAT_VANISHES = textwrap.dedent("""
    import os, sys
    from motionbridge.daemon.protocol.client import MotionBridgeClient
    c = MotionBridgeClient(sys.argv[1], timeout_s=2.0)
    h = c.generate("A person dances.", duration_s=2.0, seeds=(0, 1))
    while not any(e.kind == "progress" for e in h.poll(1.0)):
        pass
    print("streaming", flush=True)
    os._exit(0)  # vanish mid-stream: no cancel, no close
""")


def test_client_that_disappears_mid_stream(toy, client):
    before = len(toy.events("client unreachable"))
    out = subprocess.run([sys.executable, "-c", CLIENT_THAT_VANISHES, toy.endpoint], capture_output=True, text=True,
                         env=os.environ, timeout=60)
    assert out.stdout.strip() == "streaming", out.stderr
    toy.wait_for("client unreachable", 10.0, count=before + 1)
    assert len(client.generate("A person bows.", duration_s=1.0).wait(10.0)) == 1
    assert client.status()["running"] == 0


def test_lazy_pirate_resends_when_the_daemon_starts_late(tmp_path):
    with socket_port() as port:
        endpoint = f"tcp://127.0.0.1:{port}"
    c = MotionBridgeClient(endpoint, timeout_s=1.0, retries=10)
    try:
        handle = c.generate("A person walks.", duration_s=1.0)
        time.sleep(1.5)  # at least one timeout: the client reconnects and resends
        d = DaemonProcess(*TOY, bind=endpoint)
        try:
            clips = handle.wait(20.0)
            assert len(clips) == 1 and clips[0].metadata["prompt"] == "A person walks."
            assert len(d.events("accepted")) == 1
        finally:
            d.stop()
    finally:
        c.close()


def test_unreachable_daemon_is_a_clear_error_within_the_timeout():
    with socket_port() as port:
        endpoint = f"tcp://127.0.0.1:{port}"
    c = MotionBridgeClient(endpoint, timeout_s=0.3, retries=1)
    try:
        t0 = time.monotonic()
        with pytest.raises(ClientError) as err:
            c.ping()
        assert err.value.code == P.E_UNREACHABLE and "motionbridge serve" in err.value.message
        assert time.monotonic() - t0 < 3.0
        handle = c.generate("walk", duration_s=1.0)
        with pytest.raises(ClientError) as err:
            handle.wait(5.0)
        assert err.value.code == P.E_UNREACHABLE
    finally:
        c.close()


class socket_port:
    """A free loopback TCP port (bound then released)."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc) -> None:
        pass


def test_fuzz_then_ping_and_generate(toy, client):
    from fuzz import fuzz_daemon

    sent = fuzz_daemon(toy.endpoint, examples=300)
    print(f"\nfuzz (toy engine daemon): {sent} malformed messages, each answered with the expected ERROR code")
    assert sent >= 250  # the thousands run against the real model in test_end_to_end.py
    assert client.ping() < 2.0
    assert len(client.generate("A person walks.", duration_s=1.0).wait(10.0)) == 1


def test_generate_via_server_matches_in_process_and_reports_progress(toy):
    from motionbridge.daemon.remote_generate import generate_via_server

    requests = [GenerationRequest("A person walks.", 1.0, (0, 4), request_id="one"),
                GenerationRequest("A person kicks.", 1.0, (2,), cfg=2.0, request_id="two")]
    steps = []
    clips = generate_via_server(toy.endpoint, requests, progress=steps.append, timeout_s=2.0)
    expected = ToyEngine(step_s=0).generate(requests)
    assert [c.rotations.tobytes() for c in clips] == [t.clip.rotations.tobytes() for t in expected]
    assert {s.request_ids for s in steps} == {("one",), ("two",)} and max(s.step for s in steps) == 10
    with pytest.raises(ValueError, match="cfg"):
        generate_via_server(toy.endpoint, [GenerationRequest("walk", cfg=0.5)])
