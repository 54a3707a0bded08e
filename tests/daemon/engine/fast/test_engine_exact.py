"""Exact speed-ups of the fast engine against the official float32 outputs (parity fixture):
trimmed latent and text with text RoPE positions kept at 360, mixed lengths / prompts / cfg /
game flag in one batch, static-shape buckets, and per-seed determinism."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from fixture_cases import case_row, game_case, mixed_cases, multi_seed_case, requests, same_prompt_other_cfg, shortest_case, take_order, two_lengths

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.device_tables import pad_projections
from motionbridge.daemon.engine.fast.engine import FastEngine

from ..conftest import prime_with_fixture_text

# float32 rounding: re-running the official network in float64 moved latents by <= 1.8e-6
LATENT_ATOL = 1e-5


def max_latent_error(takes, cases, expected) -> float:
    err = 0.0
    for t in takes:
        name, i = case_row(cases, t.request_id, t.seed)
        ref = expected[f"{name}/latent"][i]
        assert t.latent.shape == ref.shape
        err = max(err, float(np.abs(t.latent - ref).max()))
    return err


@pytest.fixture(scope="module")
def mixed_takes(parity_engine, cases):
    return parity_engine.generate(requests(cases, mixed_cases(cases)))  # public fixture: 150/60/150/20/60 frames, cfg 5 and 1, game flag


def test_mixed_batch_matches_official_latents(mixed_takes, cases, expected):
    assert [(t.request_id, t.seed) for t in mixed_takes] == take_order(cases, mixed_cases(cases))
    assert max_latent_error(mixed_takes, cases, expected) < LATENT_ATOL


def test_takes_are_decoded_clips(mixed_takes, cases):
    for t in mixed_takes:
        assert t.clip.num_frames == cases[case_row(cases, t.request_id, t.seed)[0]]["length"]
        assert t.clip.metadata["engine"] == "fast" and t.clip.metadata["seed"] == t.seed
        assert np.isfinite(t.clip.rotations).all()


def test_seed_result_does_not_depend_on_batch(parity_engine, mixed_takes, cases):
    batch = multi_seed_case({n: cases[n] for n in mixed_cases(cases)})  # public fixture: 60 frames alone vs 150 in the mix
    alone = parity_engine.generate(requests(cases, [batch]))
    mixed = {(t.request_id, t.seed): t.latent for t in mixed_takes}
    for t in alone:
        np.testing.assert_allclose(t.latent, mixed[(t.request_id, t.seed)], atol=LATENT_ATOL, rtol=0)


def test_text_positions_must_stay_at_360(parity_engine, expected):
    """The trim is exact only with text RoPE offset 360: with the offset at the trimmed length
    the network output moves far past rounding (so the exactness tests can fail)."""
    dit = parity_engine.dit
    lengths = expected["dit/x_lengths"]
    trimmed = [r for r in range(len(lengths)) if lengths[r] < 360]
    if not trimmed:
        pytest.skip("the parity fixture's dit test has no row shorter than 360 frames")
    r, n = trimmed[0], int(lengths[trimmed[0]])  # public fixture: row 0, 150 valid frames
    rows = slice(r, r + 1)
    x = torch.from_numpy(expected["dit/x"][rows, :n])
    args = (torch.from_numpy(expected["dit/ctxt"][rows]), torch.from_numpy(expected["dit/vtxt"][rows]), torch.from_numpy(expected["dit/timesteps"][rows]))
    masks = (torch.ones(1, n, dtype=torch.bool), torch.from_numpy(expected["dit/ctxt_mask"][rows]))
    full = torch.from_numpy(expected["dit/out"][rows, :n])
    with torch.no_grad():
        kept = dit(x, *args, *masks, text_rope_offset=360)
        moved = dit(x, *args, *masks, text_rope_offset=n)
    # the row has n valid frames: trimming it is exact with the offset kept
    assert float((kept - full).abs().max()) < 1e-5
    assert float((moved - full).abs().max()) > 1e-3


def test_static_shape_buckets_are_exact(parity, cases, expected, parity_engine):
    batch = multi_seed_case(cases)
    names = [shortest_case(cases, exclude=[batch]), batch]  # public fixture: 20 + 60 frames -> bucket 90; 3 rows -> padded to 4
    train = parity_engine.config.pipeline.train_frames
    bucket = min(train, max(cases[n]["length"] for n in names) + 30)
    engine = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text,
                        FastConfig(buckets=True, frame_buckets=(bucket, train), text_buckets=(40, parity_engine.config.pipeline.max_length_llm)))
    prime_with_fixture_text(engine, expected, cases)
    takes = engine.generate(requests(cases, names))
    assert max_latent_error(takes, cases, expected) < LATENT_ATOL


@pytest.mark.gpu
@pytest.mark.parametrize("graph_tables_mib", [64, 0])  # per-step tables from a captured prologue, or eager
def test_cuda_graphs_match_eager_on_gpu(parity, cases, expected, graph_tables_mib):
    # the joint loop (the text-table mode always captures its prologue: test_text_stream.py)
    engine = FastEngine.from_parity(parity, FastConfig(cuda_graphs=True, graph_tables_mib=graph_tables_mib, text_kv_mib=0), device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    torch.backends.cuda.matmul.allow_tf32 = False
    for _ in range(3):  # one step captured, then the loop captured, then replayed with the batch copied in
        assert max_latent_error(engine.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL
    captured = next(iter(engine.graphs.entries.values()))
    assert (captured.prologue is not None) == (graph_tables_mib > 0)


@pytest.mark.gpu
def test_a_shapes_first_take_replays_one_step_and_its_later_takes_the_whole_loop(parity, cases, expected):
    """A new shape's first take captures one Euler step and replays it per step (capturing the
    loop costs a loop's launches); its second captures the whole loop, its third replays it. The
    same request gives the official latents and the same bytes all three times."""
    engine = FastEngine.from_parity(parity, FastConfig(cuda_graphs=True), device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    torch.backends.cuda.matmul.allow_tf32 = False
    names = two_lengths(cases)
    kinds, latents = [], []
    for _ in range(3):
        takes = engine.generate(requests(cases, names))
        assert max_latent_error(takes, cases, expected) < LATENT_ATOL
        latents.append([t.latent for t in takes])
        (key,) = engine.graphs.entries
        kinds.append(key[-1])
    assert kinds == ["step", "loop", "loop"] and engine.graphs.captures == 2
    for run in latents[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(latents[0], run))


def test_precomputed_modulation_table_is_exact(parity, cases, expected, parity_engine):
    """All steps' modulations in one matmul before the loop (the default) equal computing them
    inside each step; both match the official latents."""
    per_step = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text, FastConfig(precompute_modulation=False))
    prime_with_fixture_text(per_step, expected, cases)
    assert parity_engine.fast.precompute_modulation
    assert max_latent_error(per_step.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL
    assert max_latent_error(parity_engine.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL


def test_modulation_table_rows_are_the_per_step_modulations(parity_engine, expected):
    dit = parity_engine.dit
    vtxt = torch.from_numpy(expected["dit/vtxt"][:2])
    grid = torch.linspace(0, 1, 6)[:-1]
    with torch.no_grad():
        table = dit.modulation_table(grid, vtxt)
        for k, t in enumerate(grid):
            adapter = dit.timestep_encoder(t.expand(2)) + dit.vtxt_encoder(vtxt.float())
            direct = dit.all_modulations(adapter)
            for got, want in zip(dit.split_modulations(table[k]), direct):
                torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
        # a table built for the wrong step times is not these modulations
        shifted = dit.modulation_table(grid + 0.1, vtxt)
    assert float((shifted - table).abs().max()) > 1e-3


def test_refined_text_table_rows_are_the_official_refiner_outputs(parity_engine, expected):
    """Row (step k, batch row b) of the table is the refiner's output at step time k: checked
    against the official `ctxt_refined` (row 0 at t=0.3, row 1 at t=0.7)."""
    dit = parity_engine.dit
    ctxt, mask = torch.from_numpy(expected["dit/ctxt"]), torch.from_numpy(expected["dit/ctxt_mask"])
    times = torch.from_numpy(expected["dit/timesteps"]).float()
    want = torch.from_numpy(expected["dit/ctxt_refined"])
    with torch.no_grad():
        table = dit.refined_text_table(times, ctxt, mask)
        assert table.shape == (2, 2, *want.shape[1:])
        torch.testing.assert_close(table[0, 0], want[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(table[1, 1], want[1], atol=1e-5, rtol=0)
        assert float((table[1, 0] - want[0]).abs().max()) > 1e-3  # another step's row is not it


def test_precomputed_text_table_is_exact(parity, cases, expected, parity_engine, monkeypatch):
    """The refined text of all steps before the loop (the default) and the refiner inside each
    step both match the official latents; a zero budget turns the table off."""
    per_step = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text, FastConfig(precompute_text_mib=0))
    prime_with_fixture_text(per_step, expected, cases)
    assert parity_engine.fast.precompute_text_mib > 0
    seen = []
    original = per_step.dit.refined_text_table  # the DiT object is shared with parity_engine
    monkeypatch.setattr(per_step.dit, "refined_text_table", lambda *a: seen.append(1) or original(*a))
    assert max_latent_error(per_step.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL
    assert not seen
    monkeypatch.undo()
    assert max_latent_error(parity_engine.generate(requests(cases, two_lengths(cases))), cases, expected) < LATENT_ATOL


def test_compiled_path_pads_projections_and_stays_exact(parity, cases, expected, parity_engine, monkeypatch):
    """The engine's compiled configuration, with compiling itself stubbed out (Inductor on the
    CPU would take minutes): the 201-wide projections zero-padded to 208, the step's glue
    wrapped for compiling, the attention mask built once per run. Still the official latents."""
    wrapped = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: wrapped.append(fn) or fn)
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: None)
    engine = FastEngine(parity_engine.model, parity_engine.config, parity_engine.text, FastConfig(compile_blocks=True))
    prime_with_fixture_text(engine, expected, cases)
    assert engine.dit is not parity_engine.dit  # padded on the engine's own copy
    assert engine.dit.input_encoder.in_features == 208 and engine.dit.final_layer.linear.out_features == 208
    assert parity_engine.dit.input_encoder.in_features == 201
    assert (engine._input_pad, engine._out_dim) == (7, 201)
    takes = engine.generate(requests(cases, two_lengths(cases)))
    assert {f.__name__ for f in wrapped} >= {"guided_input", "guided_update"}
    assert max_latent_error(takes, cases, expected) < LATENT_ATOL


def test_padded_projections_compute_the_unpadded_sums(parity_engine, expected):
    padded = copy.deepcopy(parity_engine.dit)
    in_pad, out_dim = pad_projections(padded)
    x = torch.from_numpy(expected["dit/x"][:2, :60])
    args = (torch.from_numpy(expected["dit/ctxt"][:2]), torch.from_numpy(expected["dit/vtxt"][:2]), torch.from_numpy(expected["dit/timesteps"][:2]))
    masks = (torch.ones(2, 60, dtype=torch.bool), torch.from_numpy(expected["dit/ctxt_mask"][:2]))
    with torch.no_grad():
        want = parity_engine.dit(x, *args, *masks, text_rope_offset=360)
        got = padded(torch.nn.functional.pad(x, (0, in_pad)), *args, *masks, text_rope_offset=360)
    assert got.shape[-1] == 208 and out_dim == 201
    torch.testing.assert_close(got[..., :out_dim], want, atol=1e-5, rtol=0)
    assert float(got[..., out_dim:].abs().max()) == 0.0


@pytest.mark.gpu
def test_compiled_float32_on_gpu_matches_the_official_latents(parity, cases, expected):
    """The bfloat16 GPU default's modes in float32 (compiled blocks and glue, padded projections,
    side stream, text table, the loop in captured segments): exact to rounding, on a fresh batch
    copied into the graphs. Failed on an H100 (4.96 off, NaN alone; bench/results/
    2026-12-07-h100-session8.md), which is why the float32 GPU default does not compile."""
    compiled = dataclasses.replace(FastConfig.for_device("cuda"), dtype="float32", background_compile=False, batch_invariant=True)
    engine = FastEngine.from_parity(parity, compiled, device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    torch.backends.cuda.matmul.allow_tf32 = False
    for names in (two_lengths(cases),) * 3:  # one step captured, the loop captured, the loop replayed
        assert max_latent_error(engine.generate(requests(cases, names)), cases, expected) < LATENT_ATOL
    captured = next(iter(engine.graphs.entries.values()))
    assert captured.segments and captured.graph is None


@pytest.mark.gpu
def test_captured_loop_calls_the_hook_after_each_segment_and_stops_when_cancelled(parity, cases, expected):
    from motionbridge.daemon.engine.api import Cancelled

    engine = FastEngine.from_parity(parity, FastConfig(cuda_graphs=True, graph_segment_steps=4, loop_capture_on_use=1), device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    steps = engine.config.pipeline.validation_steps
    seen = []
    engine.generate(requests(cases, two_lengths(cases)[:1]), on_step=lambda info: seen.append((info.step, info.total)))
    assert seen == [(k, steps) for k in [*range(4, steps, 4), steps]]
    # previews every 6 steps: each multiple of 6 gets one, at the first segment end past it
    ends = [*range(4, steps, 4), steps]
    want = sorted({min(e for e in ends if e >= m) for m in range(6, steps + 1, 6)} | {steps})
    previews = []
    engine.generate(requests(cases, two_lengths(cases)[:1]), preview_every=6, on_step=lambda info: info.previews and previews.append(info.step))
    assert previews == want
    asked = []
    with pytest.raises(Cancelled):
        engine.generate(requests(cases, two_lengths(cases)[:1]), is_cancelled=lambda rid: asked.append(rid) or True)
    assert asked == [r.request_id for r in requests(cases, two_lengths(cases)[:1])]  # stopped after the first segment


def test_noise_drawn_later_is_the_noise_a_batch_draws_up_front():
    """Graph mode draws the noise after queueing the prologue (Batch.noise); it must be the
    same noise, padding rows included, that build_batch puts in x0."""
    from motionbridge.daemon.engine.fast.sampler import Row, build_batch

    rows = [Row(7, 40, 5.0, torch.ones(5, 8), torch.ones(1, 4)), Row(11, 60, 1.0, torch.ones(3, 8), torch.ones(1, 4))]
    kw = dict(input_dim=201, train_frames=360, null_ctxt=torch.zeros(1, 1, 8), null_vtxt=torch.zeros(1, 1, 4),
              ctxt_null_feat=True, device=torch.device("cpu"), frame_buckets=(90,), pad_rows_to=4, uncond_all=True)
    drawn = build_batch(rows, **kw)
    later = build_batch(rows, draw_noise=False, **kw)
    assert drawn.x0.shape == later.x0.shape == (4, 90, 201) and not later.x0.any()
    assert later.seeds == [7, 11, 7, 7]
    assert torch.equal(later.noise(), drawn.x0) and torch.equal(later.to("cpu").noise(), drawn.x0)


@pytest.mark.gpu
def test_captured_prologue_is_skipped_only_for_the_same_conditioning(parity, cases, expected):
    """Same prompts and lengths as the last run of a shape: the tables still in the graph's
    buffers are reused (no prologue replay); another prompt of the same shape replays it. A
    new cfg alone (A -> C: same prompt, cfg 5 -> 1) needs no replay: cfg is read per run. A
    shape met again after another shape's graphs replayed replays it (graphs.PoolTenancy).
    Every run still gives the official latents, so reused tables are never stale."""
    engine = FastEngine.from_parity(parity, FastConfig(cuda_graphs=True, loop_capture_on_use=1), device="cuda")
    prime_with_fixture_text(engine, expected, cases)
    torch.backends.cuda.matmul.allow_tf32 = False
    game = game_case(cases)  # public fixture: F, 60 frames
    f = requests(cases, [game])[0]
    same_length = [r for n, c in cases.items() if c["length"] == cases[game]["length"] and not c["use_special_game_feat"]
                   for r in requests(cases, [n]) if r.prompt != f.prompt]
    if len(f.seeds) != 1 or not same_length:
        pytest.skip("the parity fixture has no one-seed game case and another prompt of its length")
    other = same_length[0]  # public fixture: B, one of its seeds
    b = GenerationRequest(other.prompt, other.duration_s, other.seeds[:1], other.cfg, False, other.request_id)  # one row, like f
    guided, unguided = same_prompt_other_cfg(cases)  # public fixture: A and C, 150 frames
    a, c = requests(cases, [guided]), requests(cases, [unguided])
    # back to the short shape after the long one replayed in the same graph pool: the tables may
    # have been overwritten, so the prologue replays once even for the same prompt
    runs = [("short", [b]), ("short", [b]), ("short", [f]), ("short", [f]), ("short", [b]), ("long", a), ("long", c), ("long", a),
            ("short", [b]), ("short", [b])]
    replays = {}
    for shape, reqs in runs:
        assert max_latent_error(engine.generate(reqs), cases, expected) < LATENT_ATOL
        captured = next(reversed(engine.graphs.entries.values()))
        replays.setdefault(shape, []).append(captured.prologue_replays)
    assert replays == {"short": [1, 1, 2, 2, 3, 4, 4], "long": [1, 1, 1]}
