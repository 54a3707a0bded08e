"""The staged decode (compile/decode_graphs.py) equals the eager `decode_batched` bit for bit: on the CPU
without capture (the staging: translation through pinned buffers and scipy, static buffers
reused per shape), on CUDA with the graphs replayed, and inside the engine's `_takes`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixture_cases import latent_pools

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.compile.decode_graphs import GraphedDecoder
from motionbridge.daemon.engine.fast.decode import LevelBody, decode_batched
from motionbridge.daemon.model.decode import BodyModel, DecodedMotion

from ..conftest import tiny_engine

FIELDS = ("latent_denorm", "rot6d", "transl", "keypoints3d", "root_rotations_mat", "min_y")


def assert_same_decode(got: DecodedMotion, want: DecodedMotion) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.device == b.device and a.dtype == b.dtype and a.shape == b.shape, name
        assert torch.equal(a, b), f"{name}: max diff {float((a.double() - b.double()).abs().max())}"
    assert torch.equal(got.rotations(), want.rotations())


@pytest.fixture(scope="module")
def latents(cases, expected):
    """Three fixture latents for each of two lengths, longer one first (public fixture: 150
    frames from A, C and D cut to 150; 60 frames from B's two seeds and F)."""
    return latent_pools(cases, {n: torch.from_numpy(expected[f"{n}/latent"]) for n in cases})


def long_and_short(latents):
    return latents[max(latents)], latents[min(latents)]


def shapes(latents):
    """(batch 1, batch 3) x (the two lengths), each twice with different latents of the shape."""
    for pool in latents.values():
        for batch in (1, 3):
            first = pool[:batch]
            second = pool.flip(0)[:batch] if batch > 1 else pool[1:2]
            assert not torch.equal(first, second)
            yield first, second


def test_staged_decode_equals_eager_on_cpu(stats, latents):
    body = LevelBody(BodyModel(), "cpu")
    decoder = GraphedDecoder(*stats, body, "cpu", capture=False)
    for first, second in shapes(latents):
        for latent in (first, second):  # the second call reuses the shape's static buffers
            assert_same_decode(decoder(latent), decode_batched(latent, *stats, body))
    assert decoder.cache.captures == 4  # built once per shape


def test_staged_decode_keeps_earlier_results(stats, latents):
    """The outputs are copies: a later decode of the same shape leaves an earlier one alone."""
    body = LevelBody(BodyModel(), "cpu")
    decoder = GraphedDecoder(*stats, body, "cpu", capture=False)
    a, b = long_and_short(latents)[1][:1], long_and_short(latents)[1][1:2]
    first = decoder(a)
    kept = {name: getattr(first, name).clone() for name in FIELDS}
    decoder(b)
    for name in FIELDS:
        assert torch.equal(getattr(first, name), kept[name]), name
    assert_same_decode(first, decode_batched(a, *stats, body))


def test_staged_decode_smooths_the_translation(stats, latents):
    """The translation path is not a pass-through: without scipy's filter the result differs."""
    body = LevelBody(BodyModel(), "cpu")
    latent = long_and_short(latents)[0][:1]
    staged = GraphedDecoder(*stats, body, "cpu", capture=False)(latent)
    raw = decode_batched(latent, *stats, body, smooth=False)
    assert float((staged.transl - raw.transl).abs().max()) > 1e-4


def test_large_batches_decode_eagerly(stats, latents):
    """Above `max_graph_frames` (B * L) nothing is staged or cached, and the decode is the same."""
    body = LevelBody(BodyModel(), "cpu")
    pool = long_and_short(latents)[1]
    frames = pool.shape[1]
    decoder = GraphedDecoder(*stats, body, "cpu", capture=False, max_graph_frames=frames * 3 // 2)  # public fixture: 60 frames, 90
    small, large = pool[:1], pool[:2]
    assert_same_decode(decoder(large), decode_batched(large, *stats, body))
    assert not decoder.cache.entries
    for _ in range(2):  # staged from its second use on
        assert_same_decode(decoder(small), decode_batched(small, *stats, body))
    assert list(decoder.cache.entries) == [("decode", 1, frames, 201)]


def test_a_shape_is_staged_on_its_second_use(stats, latents):
    """A mixed stream meets a new exact-length shape on most requests; one met once decodes
    without staging (no ~150 ms capture on a GPU), the same bit for bit; `capture_on_use` 1
    stages it at once."""
    body = LevelBody(BodyModel(), "cpu")
    first, second = next(iter(shapes(latents)))
    decoder = GraphedDecoder(*stats, body, "cpu", capture=False)
    assert_same_decode(decoder(first), decode_batched(first, *stats, body))
    assert not decoder.cache.entries and decoder.cache.captures == 0
    assert_same_decode(decoder(second), decode_batched(second, *stats, body))
    assert list(decoder.cache.entries) == [("decode", *first.shape)] and decoder.cache.captures == 1
    eager = GraphedDecoder(*stats, body, "cpu", capture=False, capture_on_use=1)
    eager(first)
    assert eager.cache.captures == 1


def test_capture_needs_cuda(stats):
    with pytest.raises(ValueError, match="CUDA"):
        GraphedDecoder(*stats, LevelBody(BodyModel(), "cpu"), "cpu")


def test_engine_takes_through_the_staged_decoder():
    """`_takes` decodes through `engine.decoder` when it has one (CUDA graphs on), with the same
    takes as the eager decode; an OOM split drops the decoder's graphs with the engine's."""
    engine = tiny_engine(steps=2)
    assert engine.decoder is None
    requests = [GenerationRequest("A person walks.", 2.0, (0, 1, 2)), GenerationRequest("A person jumps.", 1.0, (4,))]
    eager = engine.generate(requests)
    engine.decoder = GraphedDecoder(engine.model.mean, engine.model.std, engine.body, engine.device, capture=False, capture_on_use=1)
    staged = engine.generate(requests)
    assert sorted(engine.decoder.cache.entries) == [("decode", 1, 30, 201), ("decode", 3, 60, 201)]
    for a, b in zip(staged, eager):
        assert (a.request_id, a.seed) == (b.request_id, b.seed)
        np.testing.assert_array_equal(a.clip.rotations, b.clip.rotations)
        np.testing.assert_array_equal(a.clip.root_translation, b.clip.root_translation)
    engine._after_oom()
    assert not engine.decoder.cache.entries


@pytest.mark.gpu
def test_graph_replay_equals_eager_decode_on_gpu(stats, latents):
    mean, std = (t.cuda() for t in stats)
    body = LevelBody(BodyModel(), "cuda")
    decoder = GraphedDecoder(mean, std, body, "cuda")
    for first, second in shapes(latents):
        first, second = first.cuda(), second.cuda()
        results = [(decoder(latent), decode_batched(latent, mean, std, body)) for latent in (first, second)]
        for got, want in results:  # the first is checked after the second replay: outputs are copies
            assert got.transl.is_cuda
            assert_same_decode(got, want)
    assert decoder.cache.captures == 4  # the second latent of each shape was replayed, not captured
    decoder.clear()
    short = long_and_short(latents)[1][:1].cuda()
    assert_same_decode(decoder(short), decode_batched(short, mean, std, body))


def test_decode_runs_uncaptured_while_a_compile_holds_the_gpu(stats, latents):
    """While a background compile holds graphs.GPU_TURNS no capture may start: the decode runs the
    same stages without a graph (bit for bit the same) and captures on a later call."""
    from motionbridge.daemon.engine.compile.graphs import GPU_TURNS

    body = LevelBody(BodyModel(), "cpu")
    decoder = GraphedDecoder(*stats, body, "cpu", capture=False)
    latent = next(iter(shapes(latents)))[0]
    decoder(latent)  # its first use: not staged at all
    with GPU_TURNS:
        assert_same_decode(decoder(latent), decode_batched(latent, *stats, body))
    assert (decoder.cache.captures, decoder.cache.deferred) == (0, 1)
    assert_same_decode(decoder(latent), decode_batched(latent, *stats, body))
    assert (decoder.cache.captures, decoder.cache.deferred) == (1, 1)
