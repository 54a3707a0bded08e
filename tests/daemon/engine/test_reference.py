"""ReferenceEngine: the engine contract (progress, previews, cancellation) on the parity fixture."""

from __future__ import annotations

import json

import pytest
import torch
from fixture_cases import case_prompts

from motionbridge.daemon.engine.api import Cancelled, GenerationRequest


@pytest.fixture(scope="module")
def engine(parity, tmp_path_factory):
    import os

    os.environ.setdefault("MOTIONBRIDGE_HOME", str(tmp_path_factory.mktemp("home")))
    torch.set_num_threads(2)
    from motionbridge.daemon.engine.reference import ReferenceEngine

    return ReferenceEngine.from_parity(parity)


@pytest.fixture
def few_steps(engine):
    """The contract does not depend on the step count: 4 Euler steps keep these tests cheap
    (the parity tests cover the 50-step numerics)."""
    import dataclasses

    pipe = engine.pipeline
    full = pipe.config
    pipe.config = dataclasses.replace(full, pipeline=dataclasses.replace(full.pipeline, validation_steps=4))
    yield engine
    pipe.config = full


@pytest.fixture(scope="module")
def case(parity):
    """The fixture case with the fewest frames and one seed (cheapest to decode)."""
    cases = json.loads((parity / "cases.json").read_text())["cases"]
    return min((c for c in cases if len(c["seeds"]) == 1 and not c["use_special_game_feat"]), key=lambda c: c["length"])


def test_generate_with_progress_previews_and_a_cancelled_neighbour(few_steps, case):
    engine = few_steps
    steps, previews = [], {}
    total = engine.pipeline.config.pipeline.validation_steps
    every = max(1, total // 2)

    def on_step(info):
        steps.append((info.step, info.total, info.request_ids))
        for rid, clips in (info.previews or {}).items():
            previews[(rid, info.step)] = clips

    cancel_after = {"other": 2}
    seen = {"other": 0}

    def is_cancelled(rid):
        if rid == "other":
            seen["other"] += 1
            return seen["other"] > cancel_after["other"]
        return False

    requests = [
        GenerationRequest(case_prompts(case)[0], case["duration_s"], tuple(case["seeds"]), case["cfg_scale"], request_id="main"),
        GenerationRequest("A person sits down.", 2.0, (5,), 3.0, request_id="other"),
    ]
    takes = engine.generate(requests, on_step=on_step, is_cancelled=is_cancelled, preview_every=every)
    assert [t.request_id for t in takes] == ["main"] and takes[0].seed == case["seeds"][0]
    main_steps = [s for s in steps if s[2][0] == "main"]
    assert [s[0] for s in main_steps] == list(range(1, total + 1)) and all(s[1] == total for s in main_steps)
    other_steps = [s for s in steps if s[2][0] == "other"]
    assert 1 <= len(other_steps) <= cancel_after["other"] + 1  # stopped between steps
    assert sorted(step for rid, step in previews if rid == "main") == list(range(every, total + 1, every))
    preview = previews[("main", every)][0]
    assert preview.num_frames == case["length"] and preview.skeleton.num_joints == 55

    take = takes[0]
    assert take.clip.num_frames == case["length"] and take.latent.shape == (case["length"], engine.pipeline.config.network.input_dim)
    meta = take.clip.metadata
    assert meta["prompt"] == case_prompts(case)[0] and meta["seed"] == case["seeds"][0] and meta["cfg"] == case["cfg_scale"]
    assert meta["model"] == engine.model_name and len(meta["checkpoint_sha256"]) == 64 and meta["motionbridge_version"]


def test_all_cancelled_raises(few_steps):
    engine = few_steps
    calls = []
    with pytest.raises(Cancelled):
        engine.generate([GenerationRequest("A person waves.", 1.0, (0,), request_id="x")], on_step=calls.append, is_cancelled=lambda rid: len(calls) >= 2)
    assert len(calls) == 2


def test_bad_request_fails_before_work(engine):
    calls = []
    with pytest.raises(ValueError, match="cfg"):
        engine.generate([GenerationRequest("A person waves.", 1.0, (0,), cfg=float("nan"))], on_step=calls.append)
    with pytest.raises(ValueError, match="prompt"):
        engine.generate([GenerationRequest("A person waves."), GenerationRequest("   ")], on_step=calls.append)
    assert calls == []
