"""Double blocks with the text half on a side stream (fast/side_stream.py): same results as one stream."""

from __future__ import annotations

import copy

import pytest
import torch

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.side_stream import overlap_text_stream

from ..conftest import tiny_engine


def _inputs(dit, rows: int = 2, frames: int = 30, tokens: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cfg = dit.cfg
    x = torch.randn(rows, frames, cfg.input_dim, generator=g)
    ctxt = torch.randn(rows, tokens, cfg.ctxt_input_dim, generator=g)
    vtxt = torch.randn(rows, 1, cfg.vtxt_input_dim, generator=g)
    t = torch.rand(rows, generator=g)
    x_mask = torch.ones(rows, frames, dtype=torch.bool)
    x_mask[1, frames - 7 :] = False  # padding on one row, so the masks matter
    ctxt_mask = torch.ones(rows, tokens, dtype=torch.bool)
    ctxt_mask[0, tokens - 3 :] = False
    return x, ctxt, vtxt, t, x_mask, ctxt_mask


def test_patched_double_blocks_compute_exactly_what_the_blocks_did():
    dit = tiny_engine().model.motion_transformer
    patched = copy.deepcopy(dit)
    assert overlap_text_stream(patched, "cpu") == len(dit.double_blocks) > 0
    args = _inputs(dit)
    with torch.no_grad():
        want = dit(*args, text_rope_offset=360)
        got = patched(*args, text_rope_offset=360)
        assert torch.equal(got, want)
        # and the patch is really in the path: a changed text weight moves the output
        patched.double_blocks[-1].text_qkv.weight.add_(0.5)
        assert not torch.equal(patched(*args, text_rope_offset=360), want)


def test_engine_with_text_side_stream_gives_the_same_takes_on_the_cpu():
    base = tiny_engine(steps=3)
    side = tiny_engine(steps=3, fast=FastConfig(text_side_stream=True))
    assert getattr(side.dit.double_blocks[0], "two_streams", False)
    req = [GenerationRequest("A person walks.", 2.0, (0, 1), 5.0)]
    for a, b in zip(base.generate(req), side.generate(req)):
        assert torch.equal(torch.from_numpy(a.latent), torch.from_numpy(b.latent))


def test_text_side_stream_refuses_whole_model_compile():
    with pytest.raises(ValueError, match="compile_scope='blocks' or 'stack'"):
        FastConfig(text_side_stream=True, compile_blocks=True, compile_scope="model")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_side_stream_on_the_gpu_matches_one_stream_eager_and_in_a_cuda_graph(dtype):
    from motionbridge.daemon.bench.random_models import tiny_random_engine

    one = tiny_random_engine("cuda", 3, dtype=dtype)
    two = tiny_random_engine("cuda", 3, dtype=dtype, text_side_stream=True)
    from motionbridge.daemon.engine.fast.side_stream import _side_stream

    assert _side_stream(two.dit.double_blocks[0], torch.device("cuda")) is not None
    x, ctxt, vtxt, t, x_mask, ctxt_mask = (a.cuda() for a in _inputs(one.dit, rows=4, frames=60, tokens=16))
    rope = one.dit.rope(60, 16, 360, torch.device("cuda"))
    run = lambda e: e.network(x, ctxt, vtxt, t, x_mask, ctxt_mask, rope=rope)  # noqa: E731
    with torch.no_grad():
        want = run(one)
        assert torch.equal(run(two), want)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            run(two)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = run(two)
        for _ in range(3):  # replays reuse the graph's memory: a cross-stream race would show here
            graph.replay()
            torch.cuda.synchronize()
            assert torch.equal(out, want)


def test_gpu_default_config_uses_the_side_stream():
    assert FastConfig.for_device("cuda").text_side_stream
    assert not FastConfig.for_device("cpu").text_side_stream


@pytest.mark.gpu
def test_large_batches_stay_on_one_stream():
    """Above OVERLAP_MAX_ROWS motion rows the text half runs on the caller's stream (no side-
    stream work is queued), with the same result."""
    from motionbridge.daemon.bench.random_models import tiny_random_engine
    from motionbridge.daemon.engine.fast import side_stream as streams

    one = tiny_random_engine("cuda", 3)
    two = tiny_random_engine("cuda", 3, text_side_stream=True)
    rows, frames = 4, streams.OVERLAP_MAX_ROWS // 4 + 30
    x, ctxt, vtxt, t, x_mask, ctxt_mask = (a.cuda() for a in _inputs(one.dit, rows=rows, frames=frames, tokens=16))
    rope = one.dit.rope(frames, 16, 360, torch.device("cuda"))
    calls = []
    side = streams._side_stream(two.dit.double_blocks[0], torch.device("cuda"))  # this thread's
    original = side.wait_stream
    side.wait_stream = lambda s: calls.append(s) or original(s)
    with torch.no_grad():
        got = two.network(x, ctxt, vtxt, t, x_mask, ctxt_mask, rope=rope)
        want = one.network(x, ctxt, vtxt, t, x_mask, ctxt_mask, rope=rope)
    assert torch.equal(got, want) and not calls


def test_stack_scope_compiles_the_single_blocks_as_one_unit():
    """compile scope 'stack': the single blocks and the final layer are one compiled callable,
    the single blocks are not compiled one by one, the double and refiner blocks still are."""
    from motionbridge.daemon.engine.fast import device_tables

    dit = copy.deepcopy(tiny_engine().model.motion_transformer)
    compiled = []
    device_tables.compile_blocks(dit, scope="stack", compile_fn=lambda fn: compiled.append(fn) or fn)
    functions = [f for f in compiled if getattr(f, "__func__", None) is type(dit).single_stack]
    block_compiles = [f.__self__ for f in compiled if getattr(f, "__func__", None) is torch.nn.Module._call_impl]
    assert len(functions) == 1 and len(compiled) == 1 + len(block_compiles)
    assert not any(b in block_compiles for b in dit.single_blocks)
    assert all(b in block_compiles for b in dit.double_blocks)
    assert dit.input_encoder in block_compiles and dit.final_layer not in block_compiles
    assert len(block_compiles) == len(dit.double_blocks) + len(dit.text_refiner.individual_token_refiner.blocks) + 1
    assert all(b._compiled_call_impl is not None for b in block_compiles)
