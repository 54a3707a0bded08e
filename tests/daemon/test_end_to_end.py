"""The real tiny parity model behind a real daemon subprocess, on CPU.

One daemon for the module (loading the model costs seconds, each take tens of seconds on
a busy 2-core box), so the order matters: concurrent clients checked bit for bit against
in-process generation, a mid-request cancel, kill -9 of the worker, then the fuzzer, then
PING and a real GENERATE that must still match in-process generation bit for bit.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from daemon_proc import DaemonProcess
from fuzz import fuzz_daemon

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient

HEARTBEAT = 0.2
THREADS = 2  # CPU kernels round by thread count: the daemon and the in-process check use the same
TAKE_TIMEOUT = 400.0
REQUESTS = [GenerationRequest("A person walks forward.", 2.0, (0,), 5.0, request_id="a"),
            GenerationRequest("A person waves with the right hand.", 2.0, (7,), 3.0, request_id="b")]


@pytest.fixture(scope="module")
def daemon(parity):
    d = DaemonProcess("--engine", "reference", "--threads", str(THREADS), "--checkpoint", str(parity / "model"), "--qwen",
                      str(parity / "text_encoders" / "qwen3"),
                      "--clip", str(parity / "text_encoders" / "clip"), heartbeat=HEARTBEAT, ready_timeout=300)
    yield d
    assert d.stop(60) == 0


@pytest.fixture(scope="module")
def expected(parity):
    """take(request id) -> the take of that entry of REQUESTS generated in-process with the
    daemon's thread count, which every daemon answer must equal bit for bit; plus the model
    hash. A fixture, so each test works when run alone (before, the last test compared against
    what the first had stored and skipped its check silently without it). Takes are made on
    first use, one request at a time (the daemon may batch them or not: same bits), and never
    while the daemon computes: two torch processes on two busy cores slow each other down."""
    import torch

    from motionbridge.daemon.engine.reference import ReferenceEngine

    engine = ReferenceEngine.from_parity(parity)
    made: dict[str, object] = {}

    def take(request_id: str):
        if request_id not in made:
            old = torch.get_num_threads()  # other test folders pin their own thread counts for the session
            torch.set_num_threads(THREADS)
            try:
                (made[request_id],) = engine.generate([r for r in REQUESTS if r.request_id == request_id])
            finally:
                torch.set_num_threads(old)
        return made[request_id]

    return engine.model_hash, take


def _differences(clip, want_clip) -> str:
    """'' when both arrays are equal bit for bit; otherwise, per array, the largest difference,
    how many values differ and which frames (all frames: the sampling; only the ends: the
    smoothing filters)."""
    import numpy as np

    out = []
    for name in ("rotations", "root_translation"):
        got, want = getattr(clip, name), getattr(want_clip, name)
        if got.shape != want.shape:
            out.append(f"{name} shapes {got.shape} vs {want.shape}")
        elif not np.array_equal(got, want):
            frames = np.flatnonzero((got != want).reshape(len(got), -1).any(1))
            out.append(f"{name} differ: max abs {np.abs(got - want).max():.3g}, {int((got != want).sum())} of {got.size} "
                       f"values, {len(frames)} of {len(got)} frames ({frames[:3].tolist()}..{frames[-3:].tolist()})")
    return "; ".join(out)


def _same(clip, take) -> None:
    """Bit for bit; on a mismatch the message says where the arrays differ (pytest's own diff
    of two long byte strings takes many minutes)."""
    import numpy as np

    assert clip.metadata["seed"] == take.seed and clip.metadata["prompt"] == take.clip.metadata["prompt"]
    diff = _differences(clip, take.clip)
    assert not diff, diff
    assert np.array_equal(clip.skeleton.rest_translations, take.clip.skeleton.rest_translations)


def test_concurrent_clients_match_in_process_bit_for_bit(daemon, expected):
    model_hash, take = expected
    for r in REQUESTS:  # before the daemon works, not while
        take(r.request_id)
    clients = [MotionBridgeClient(daemon.endpoint, timeout_s=5.0) for _ in REQUESTS]
    try:
        handles = [c.generate(r.prompt, duration_s=r.duration_s, seeds=r.seeds, cfg=r.cfg)
                   for c, r in zip(clients, REQUESTS)]
        results = [h.wait(TAKE_TIMEOUT) for h in handles]
    finally:
        for c in clients:
            c.close()
    assert model_hash == results[0][0].metadata["checkpoint_sha256"][:16]
    for req, clips in zip(REQUESTS, results):
        assert len(clips) == 1 and clips[0].rotations.shape == (60, 55, 4)
        _same(clips[0], take(req.request_id))
    assert [b["requests"] for b in daemon.events("batch")][:1] in ([1], [2])


def test_cancel_mid_request(daemon):
    with MotionBridgeClient(daemon.endpoint, timeout_s=5.0) as c:
        handle = c.generate("A person jumps.", duration_s=2.0, seeds=(3,))
        steps = []
        deadline = time.monotonic() + TAKE_TIMEOUT
        while not steps and time.monotonic() < deadline:
            steps += [e.data["step"] for e in handle.poll(0.5) if e.kind == "progress"]
        handle.cancel()
        with pytest.raises(ClientError) as err:
            handle.wait(120.0)
        assert err.value.code == P.E_CANCELLED
        steps += [e.data["step"] for e in handle.poll() if e.kind == "progress"]
        assert max(steps) < 50, "cancelled between Euler steps, long before the end"
        assert c.status()["running"] == 0


def test_kill_9_worker_mid_request_then_recovery(daemon):
    with MotionBridgeClient(daemon.endpoint, timeout_s=5.0) as c:
        pid = c.status()["workers"][0]["pid"]
        handle = c.generate("A person falls down.", duration_s=2.0)
        deadline = time.monotonic() + TAKE_TIMEOUT
        while not any(e.kind == "progress" for e in handle.poll(0.5)):
            assert time.monotonic() < deadline
        readies = len(daemon.events("worker ready"))
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        while not handle.done and time.monotonic() - killed < 10:
            time.sleep(0.005)
        error_s = time.monotonic() - killed
        assert handle.error is not None and handle.error.code == P.E_WORKER_DIED
        assert error_s < 3 * HEARTBEAT, f"ERROR after {error_s:.3f} s"
        assert c.ping() < 5.0  # the daemon itself answers while the worker reloads
        while not c.status()["workers"][0]["ready"]:
            assert time.monotonic() - killed < 300
            time.sleep(0.1)
        ready_s = time.monotonic() - killed
        print(f"\n[real model] kill -9 of the worker: ERROR after {error_s * 1000:.0f} ms "
              f"({error_s / HEARTBEAT:.2f} heartbeats); worker serving again after {ready_s:.1f} s "
              f"(daemon log: recovery_s={daemon.wait_for('worker ready', 10, readies + 1)[-1].get('recovery_s')})")


def test_fuzz_then_ping_and_a_real_generate(daemon, expected):
    want = expected[1]("a")  # before the fuzz and the daemon's take, not during
    sent = fuzz_daemon(daemon.endpoint, examples=2000)
    print(f"\n[real model] fuzz: {sent} random/truncated/oversized/wrong-version messages; "
          "every one answered with its expected ERROR code")
    assert sent >= 1500
    with MotionBridgeClient(daemon.endpoint, timeout_s=5.0) as c:
        assert c.ping() < 5.0
        served = c.hello()["model"]
        req = REQUESTS[0]
        clips = c.generate(req.prompt, duration_s=req.duration_s, seeds=req.seeds, cfg=req.cfg).wait(TAKE_TIMEOUT)
        diff = _differences(clips[0], want.clip)
        if diff:
            # One full CI run once failed here (rotations max abs 0.00156) and nothing reproduced it:
            # not thread counts (1-4 give identical takes for this fixture), not restarts (every
            # restarted worker matched, idle and under CPU load). Ask the same worker again, so the
            # next failure says whether that process computes differently or one take was off.
            again = c.generate(req.prompt, duration_s=req.duration_s, seeds=req.seeds, cfg=req.cfg).wait(TAKE_TIMEOUT)
            diff += (f" | the restarted worker's second take vs in-process: {_differences(again[0], want.clip) or 'equal'}"
                     f"; vs its first take: {_differences(again[0], clips[0]) or 'equal'}")
    assert not diff, diff  # also after the worker restart: still the in-process result
    _same(clips[0], want)
    assert clips[0].metadata["model"] == served and clips[0].metadata["prompt"] == req.prompt
