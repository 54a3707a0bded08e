"""FastEngine's exact speed-ups, proved against the float32 reference on the parity fixture:
trimmed motion/text tokens (text RoPE kept at train_frames) and mixed batches of different
prompts, lengths and cfg must reproduce the fixture's outputs within the parity tolerances."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionbridge.daemon.engine.api import Cancelled, GenerationRequest
from motionbridge.daemon.engine.batching import RowSpec

DIT_TOL = 1e-5
LATENT_TOL = 1e-4


@pytest.fixture(scope="module")
def engine(parity, tmp_path_factory):
    import os

    os.environ.setdefault("MOTIONBRIDGE_HOME", str(tmp_path_factory.mktemp("home")))
    torch.set_num_threads(2)
    from motionbridge.daemon.engine.fast import FastEngine

    return FastEngine.from_parity(parity)


@pytest.fixture
def few_steps(engine):
    """Contract tests need no 50 steps; the exactness test below runs the full count."""
    import dataclasses

    pipe = engine.pipeline
    full = pipe.config
    pipe.config = dataclasses.replace(full, pipeline=dataclasses.replace(full.pipeline, validation_steps=4))
    yield engine
    pipe.config = full


@pytest.fixture(scope="module")
def fixture_data(parity):
    cases = json.loads((parity / "cases.json").read_text())["cases"]
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        return cases, {k: data[k] for k in data.files}


def test_trimmed_dit_forward_keeps_text_positions(engine, fixture_data):
    """One sample of the fixture's DiT test, with motion and text trimmed to its lengths."""
    _, exp = fixture_data
    if "dit/out" not in exp:
        pytest.skip("fixture has no dit/* arrays")
    dit = engine.pipeline.model.motion_transformer
    train_frames = engine.pipeline.config.pipeline.train_frames
    i = int(np.argmin(exp["dit/x_lengths"]))
    lx, lt = int(exp["dit/x_lengths"][i]), max(1, int(exp["dit/ctxt_lengths"][i]))
    x = torch.from_numpy(exp["dit/x"][i : i + 1, :lx])
    ctxt = torch.from_numpy(exp["dit/ctxt"][i : i + 1, :lt])
    args = (x, ctxt, torch.from_numpy(exp["dit/vtxt"][i : i + 1]), torch.from_numpy(exp["dit/timesteps"][i : i + 1]),
            torch.ones(1, lx, dtype=torch.bool), torch.ones(1, lt, dtype=torch.bool))
    with torch.no_grad():
        out = dit(*args, text_rope_offset=train_frames, fused_modulation=True)
        moved = dit(*args)  # text right after the trimmed motion: a different model
    err = float((out[0] - torch.from_numpy(exp["dit/out"][i, :lx])).abs().max())
    assert err <= DIT_TOL
    if lx < train_frames:
        assert float((moved[0] - torch.from_numpy(exp["dit/out"][i, :lx])).abs().max()) > 100 * DIT_TOL


def test_one_mixed_batch_reproduces_every_case(engine, fixture_data):
    """The cases in one batch (different prompts, lengths, cfg, game flag), from the stored
    text features; each row's latent must match its case. Full-window cases are left out when
    shorter ones exist, so the batch is trimmed (and the test stays cheap)."""
    cases, exp = fixture_data
    pipe = engine.pipeline
    window = pipe.config.pipeline.train_frames
    cases = [c for c in cases if c["length"] < window] or cases
    game = pipe.model.special_game_vtxt_feat[0]
    rows, want = [], []
    for index, case in enumerate(cases):
        n = case["name"]
        for b, seed in enumerate(case["seeds"]):
            vtxt = torch.from_numpy(exp[f"{n}/vtxt_raw"][b])
            if case["use_special_game_feat"] and pipe.config.pipeline.enable_special_game_feat:
                vtxt = vtxt + game
            rows.append(RowSpec(index, n, int(seed), pipe.frames_for(case["duration_s"]), float(case["cfg_scale"]), vtxt,
                                torch.from_numpy(exp[f"{n}/ctxt_raw"][b]), int(exp[f"{n}/ctxt_length"][b])))
            want.append(exp[f"{n}/latent"][b])
    latents = engine._sample(rows, None, None, 0)
    errors = {f"{rows[i].request_id}/{rows[i].seed}": float(np.abs(latents[i].numpy() - want[i]).max()) for i in range(len(rows))}
    print("fast engine latent errors:", errors)
    assert max(errors.values()) <= LATENT_TOL, errors


def test_generate_and_cancel(few_steps, fixture_data):
    engine = few_steps
    cases, _ = fixture_data
    case = min(cases, key=lambda c: c["length"])
    steps = []
    requests = [
        GenerationRequest(case["text"], case["duration_s"], (11, 12), 2.5, request_id="keep"),
        GenerationRequest("A person sits down.", 3.0, (1,), 1.0, request_id="drop"),
    ]
    takes = engine.generate(requests, on_step=steps.append, is_cancelled=lambda rid: rid == "drop" and len(steps) >= 2, preview_every=2)
    assert [(t.request_id, t.seed) for t in takes] == [("keep", 11), ("keep", 12)]
    assert all(t.clip.num_frames == case["length"] for t in takes)
    assert steps[0].request_ids == ("keep", "drop") and steps[-1].request_ids == ("keep",)
    assert [s.step for s in steps if s.previews] == [2, 4] and all(len(s.previews["keep"]) == 2 for s in steps if s.previews)
    assert engine.health()["ok"]
    hits = engine.text_cache.hits
    again = engine.generate([GenerationRequest(case["text"], case["duration_s"], (11,), 2.5, request_id="again")])
    assert engine.text_cache.hits == hits + 1  # the prompt's features came from the cache
    # same seed alone vs in a bigger batch: equal up to float rounding (CPU kernels block by batch size)
    np.testing.assert_allclose(again[0].latent, takes[0].latent, atol=1e-5, rtol=0)
    with pytest.raises(Cancelled):
        engine.generate([GenerationRequest("A person waves.", request_id="x")], is_cancelled=lambda rid: True)


def test_text_cache_lru():
    from motionbridge.daemon.engine.text_cache import CachedText, TextCache

    cache = TextCache(2)
    item = CachedText(torch.zeros(1, 2), torch.zeros(3, 2), 1, ())
    cache.put(("a", "enc", "bf16"), item)
    cache.put(("b", "enc", "bf16"), item)
    assert cache.get(("a", "enc", "bf16")) is item  # a is now the most recent
    cache.put(("c", "enc", "bf16"), item)
    assert cache.get(("b", "enc", "bf16")) is None and len(cache) == 2
    assert cache.get(("a", "enc", "fp32")) is None  # dtype is part of the key
    with pytest.raises(ValueError):
        TextCache(-1)


def test_oom_split_plan():
    from motionbridge.daemon.engine.fast import FastEngine

    assert FastEngine._split([(0, (1, 2)), (1, (3,)), (2, (4,))]) == [[(0, (1, 2))], [(1, (3,)), (2, (4,))]]
    assert FastEngine._split([(0, (1, 2, 3))]) == [[(0, (1,))], [(0, (2, 3))]]
