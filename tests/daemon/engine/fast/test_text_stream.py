"""The text-table mode (fast/text_stream.py): every block's text keys and values of every step made
before the loop, and the loop on the motion tokens alone. Against the official DiT output and
latents of the parity fixture, and against the joint network it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixture_cases import requests, two_lengths, unguided_case

from motionbridge.daemon.engine.fast import text_stream
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.model.mmdit import joint_attention_mask

from ..conftest import prime_with_fixture_text
from .test_engine_exact import LATENT_ATOL, max_latent_error


@pytest.mark.parametrize("band,causal", [(60, False), (None, True), (None, False)])
def test_text_queries_never_see_motion_keys_in_any_mask_mode(band, causal):
    """What makes the table exact: the text rows' scores against motion keys are -inf."""
    motion_valid = torch.tensor([[True] * 5 + [False] * 3, [True] * 8])
    text_valid = torch.tensor([[True] * 2 + [False] * 2, [True] * 4])
    mask = joint_attention_mask(motion_valid, text_valid, band, causal)
    assert torch.isneginf(mask[:, :, 8:, :8]).all()
    assert not torch.isneginf(mask[:, :, :8, 8:][..., :2]).any()  # motion does see valid text


def _inputs(expected):
    x = torch.from_numpy(expected["dit/x"])
    ctxt, vtxt = torch.from_numpy(expected["dit/ctxt"]), torch.from_numpy(expected["dit/vtxt"])
    x_mask, ctxt_mask = torch.from_numpy(expected["dit/x_mask"]), torch.from_numpy(expected["dit/ctxt_mask"])
    return x, ctxt, vtxt, x_mask, ctxt_mask, torch.from_numpy(expected["dit/timesteps"]).float()


def test_motion_network_with_the_table_is_the_official_dit_output(parity_engine, expected):
    """Step k's table row at the fixture's two step times: the motion-only network gives the
    official `dit/out` (row 0 at t=0.3, row 1 at t=0.7) and the joint network's output; another
    step's row does not (the table is per step)."""
    dit = parity_engine.dit
    x, ctxt, vtxt, x_mask, ctxt_mask, times = _inputs(expected)
    lm, lt = x.shape[1], ctxt.shape[1]
    joint_rope = dit.rope(lm, lt, 360, x.device)
    mask = dit.mask(x_mask, ctxt_mask)
    motion_rope, text_rope = text_stream.split_rope(joint_rope, lm)
    with torch.no_grad():
        mods = dit.modulation_table(times, vtxt)
        text = dit.refined_text_table(times, ctxt, ctxt_mask)
        kv = text_stream.text_kv_table(dit, mods, text, text_rope, mask[:, :, lm:, lm:].contiguous())
        assert kv.shape == (2, len(dit.double_blocks) + len(dit.single_blocks), 2, 2, lt, dit.cfg.num_heads, dit.cfg.head_dim)
        assert kv.numel() * kv.element_size() == text_stream.table_bytes(dit, 2, 2, lt, torch.float32)
        net = text_stream.MotionNetwork(dit)
        motion_mask = text_stream.motion_query_mask(mask, lm)
        want = torch.from_numpy(expected["dit/out"])
        lengths = expected["dit/x_lengths"]
        outs = []
        for k in range(2):
            split = dit.split_modulations(mods[k])
            got = net(x, split, kv[k], motion_rope, motion_mask)
            joint = dit(x, ctxt, vtxt, times[k].expand(2), x_mask, ctxt_mask, rope=joint_rope, attn_mask=mask, mods=split, refined_text=text[k])
            valid = slice(0, int(lengths[k]))
            torch.testing.assert_close(got[k, valid], want[k, valid], atol=1e-5, rtol=0)
            torch.testing.assert_close(got[:, valid], joint[:, valid], atol=1e-5, rtol=0)
            outs.append(got)
        wrong_step = net(x, dit.split_modulations(mods[0]), kv[1], motion_rope, motion_mask)
    assert float((wrong_step - outs[0]).abs().max()) > 1e-3


def test_text_table_mode_is_planned_for_small_batches_and_matches_official_latents(parity_engine, cases, expected, monkeypatch):
    calls = []
    original = text_stream.MotionNetwork.__call__
    monkeypatch.setattr(text_stream.MotionNetwork, "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    assert parity_engine.fast.text_kv_mib > 0
    takes = parity_engine.generate(requests(cases, two_lengths(cases)))
    assert calls, "the default engine did not run the motion-only loop"
    assert max_latent_error(takes, cases, expected) < LATENT_ATOL


@pytest.mark.parametrize("change", [{"text_kv_mib": 0}, {"precompute_text_mib": 0}, {"precompute_modulation": False}])
def test_joint_loop_when_the_table_is_off_or_cannot_be_made(parity_engine, cases, expected, monkeypatch, change):
    engine = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text, FastConfig(**change))
    prime_with_fixture_text(engine, expected, cases)
    monkeypatch.setattr(text_stream.MotionNetwork, "__call__", lambda *a: pytest.fail("motion-only loop without its table"))
    assert max_latent_error(engine.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL


def test_plan_counts_the_table_it_would_keep(parity_engine, cases, expected):
    """A budget just below the table's bytes turns the mode off; at the bytes it is on."""
    from motionbridge.daemon.engine.fast.sampler import Row, build_batch

    dc, dv = parity_engine.config.network.ctxt_input_dim, parity_engine.config.network.vtxt_input_dim
    rows = [Row(0, 150, 5.0, torch.zeros(7, dc), torch.zeros(1, dv))]
    batch = build_batch(rows, input_dim=201, train_frames=360, null_ctxt=torch.zeros(1, 1, dc), null_vtxt=torch.zeros(1, 1, dv),
                        ctxt_null_feat=True, device=torch.device("cpu"))
    need = text_stream.table_bytes(parity_engine.dit, 50, 2, 7, torch.float32)
    mib = -(-need // 2**20)
    for budget, on in ((mib, True), (mib - 1, False)):
        engine = FastEngine(parity_engine.model, parity_engine.config, None, FastConfig(text_kv_mib=budget))
        plan = engine.tables.plan(batch, 50)
        assert plan.text_kv == on
        assert plan.bytes >= (need if on else 0)


def test_negative_table_budgets_are_refused():
    with pytest.raises(ValueError, match="text_kv_mib must be >= 0"):
        FastConfig(text_kv_mib=-1)


@pytest.mark.gpu
@pytest.mark.parametrize("text_kv_mib", [512, 0])
def test_gpu_default_in_float32_matches_official_latents_with_and_without_the_table(parity, cases, expected, text_kv_mib):
    engine = FastEngine.from_parity(parity, FastConfig(**{**FastConfig.for_device("cuda", "float32").__dict__, "text_kv_mib": text_kv_mib}), device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    torch.backends.cuda.matmul.allow_tf32 = False
    for names in (two_lengths(cases), [unguided_case(cases), two_lengths(cases)[0]]):
        assert max_latent_error(engine.generate(requests(cases, names)), cases, expected) < LATENT_ATOL
    captured = next(iter(engine.graphs.entries.values()))
    assert captured.segments and captured.prologue is not None


@pytest.mark.gpu
def test_bf16_table_mode_stays_near_the_bf16_joint_loop(parity, cases, expected):
    """bf16 rounds differently in a batched text pass than per step: held to the same order as
    bf16 against float32 on this fixture (0.024 latent)."""
    def latents(kv_mib):
        engine = FastEngine.from_parity(parity, FastConfig(**{**FastConfig.for_device("cuda").__dict__, "text_kv_mib": kv_mib}), device="cuda")
        prime_with_fixture_text(engine, expected, cases)
        return {(t.request_id, t.seed): t.latent for t in engine.generate(requests(cases, two_lengths(cases)))}

    table, joint = latents(512), latents(0)
    worst = max(float(np.abs(table[k] - joint[k]).max()) for k in joint)
    assert worst < 0.05


def test_compiled_engine_compiles_both_passes_and_stays_exact(parity, cases, expected, parity_engine, monkeypatch):
    """With compiling stubbed out (Inductor on the CPU takes minutes): the text pass's per-block
    functions and the motion loop's pieces are the ones handed to torch.compile, and the result
    is still the official latents."""
    wrapped = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: wrapped.append(fn) or fn)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: None)
    engine = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text, FastConfig(compile_blocks=True))
    prime_with_fixture_text(engine, expected, cases)
    assert max_latent_error(engine.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL
    names = {f.__name__ for f in wrapped}
    assert {"text_double_block", "text_single_block", "motion_double_block", "motion_single_stack"} <= names
