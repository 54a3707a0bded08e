"""Parity with the official implementation, stage by stage (README's suggested order):
DiT alone -> guided velocity at t=0 -> final latent from stored text features -> decode from
the stored latent -> text encoders. Everything comes from the fixture; nothing is hard-coded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixture_cases import case_prompts

from .conftest import record

DIT_TOL = 1e-5
V0_TOL = 1e-5
LATENT_TOL = 1e-4
DECODE_TOL = {"latent_denorm": 1e-4, "rot6d": 1e-4, "keypoints3d": 1e-4, "root_rotations_mat": 1e-4, "min_y": 1e-4, "transl": 1e-3}
BF16_RTOL = 2.0**-6  # two bf16 ulps relative: the LLM runs in bfloat16
FP32_LLM_TOL = 1e-4


def T(expected, key):
    return torch.from_numpy(np.ascontiguousarray(expected[key]))


def text_features(expected, name):
    from motionbridge.daemon.model.text_encoder import TextFeatures

    return TextFeatures(T(expected, f"{name}/vtxt_raw"), T(expected, f"{name}/ctxt_raw"), T(expected, f"{name}/ctxt_length"))


def test_dit_single_forward(pipeline, expected):
    if "dit/out" not in expected:
        pytest.skip("fixture has no dit/* arrays")
    capture: dict = {}
    with torch.no_grad():
        out = pipeline.model.motion_transformer(
            T(expected, "dit/x"), T(expected, "dit/ctxt"), T(expected, "dit/vtxt"), T(expected, "dit/timesteps"),
            T(expected, "dit/x_mask"), T(expected, "dit/ctxt_mask"), capture=capture,
        )
    errors = {"dit/out": record("dit/out", out, expected["dit/out"], DIT_TOL)}
    for name, value in capture.items():
        if f"dit/{name}" in expected:
            errors[f"dit/{name}"] = record(f"dit/{name}", value, expected[f"dit/{name}"], DIT_TOL)
    assert len(errors) > 1
    assert max(errors.values()) <= DIT_TOL, errors


def test_masks_match_lengths(expected):
    """The fixture's masks are length masks; ours are built the same way."""
    from motionbridge.daemon.model.sampling import length_mask

    if "dit/x_mask" not in expected:
        pytest.skip("fixture has no dit/* arrays")
    for mask, lengths in (("dit/x_mask", "dit/x_lengths"), ("dit/ctxt_mask", "dit/ctxt_lengths")):
        got = length_mask(T(expected, lengths), expected[mask].shape[1]).numpy()
        np.testing.assert_array_equal(got, expected[mask])


def test_time_grid(pipeline, expected):
    from motionbridge.daemon.model.sampling import time_grid

    grid = time_grid(pipeline.config.pipeline.validation_steps).numpy()
    np.testing.assert_array_equal(grid, expected["t_grid"])  # exact, including the off-by-an-ulp points


def _conditioning(pipeline, expected, case):
    name = case["name"]
    frames = pipeline.frames_for(case["duration_s"])
    assert frames == case["length"] == expected[f"{name}/latent"].shape[1]
    return pipeline.conditioning(text_features(expected, name), frames, case["cfg_scale"], case["use_special_game_feat"]), frames


def test_noise_and_length(pipeline, expected, case_by_name, case_name):
    case = case_by_name[case_name]
    y0 = pipeline.noise(case["seeds"])
    record(f"{case_name}/y0", y0, expected[f"{case_name}/y0"], 0.0)
    np.testing.assert_array_equal(y0.numpy(), expected[f"{case_name}/y0"])
    assert pipeline.frames_for(case["duration_s"]) == case["length"]


def test_guided_velocity_at_t0(pipeline, expected, case_by_name, case_name):
    key = f"{case_name}/v0_guided"
    if key not in expected:
        pytest.skip(f"case {case_name} has no {key}")
    cond, _ = _conditioning(pipeline, expected, case_by_name[case_name])
    with torch.no_grad():
        v0 = pipeline.velocity(cond)(torch.tensor(0.0), T(expected, f"{case_name}/y0"))
    assert record(key, v0, expected[key], V0_TOL) <= V0_TOL


def test_final_latent(pipeline, expected, case_by_name, case_name):
    cond, frames = _conditioning(pipeline, expected, case_by_name[case_name])
    latent = pipeline.sample(cond, T(expected, f"{case_name}/y0"))[:, :frames]
    err = record(f"{case_name}/latent", latent, expected[f"{case_name}/latent"], LATENT_TOL)
    assert err <= LATENT_TOL


def test_decode(pipeline, expected, case_name):
    decoded = pipeline.decode(T(expected, f"{case_name}/latent"))
    failures = {}
    for field, tol in DECODE_TOL.items():
        key = f"{case_name}/{field}"
        err = record(key, getattr(decoded, field), expected[key], tol)
        if err > tol:
            failures[field] = err
    assert not failures, failures


def _bf16_close(name, got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    record(name, got, want, BF16_RTOL)
    bad = np.abs(got - want) > BF16_RTOL * np.maximum(np.abs(want), 1.0)
    assert not bad.any(), f"{name}: {int(bad.sum())} values differ by more than bf16 precision"


def test_text_encoder(text_encoder_bf16, cases, expected, case_by_name, case_name):
    case = case_by_name[case_name]
    te = text_encoder_bf16
    facts = cases["text_encoder"]
    assert te.crop_start == facts["crop_start"]
    assert te.llm_max_tokens == facts["max_length_llm"]
    features = te.encode(case_prompts(case))
    n = case_name
    assert [str(s) for s in features.rendered] == [str(s) for s in expected[f"{n}/rendered_text"]]
    np.testing.assert_array_equal(features.llm_input_ids.numpy(), expected[f"{n}/llm_input_ids"])
    np.testing.assert_array_equal(features.llm_attention_mask.numpy(), expected[f"{n}/llm_attention_mask"])
    np.testing.assert_array_equal(features.clip_input_ids.numpy(), expected[f"{n}/clip_input_ids"])
    np.testing.assert_array_equal(features.clip_attention_mask.numpy(), expected[f"{n}/clip_attention_mask"])
    np.testing.assert_array_equal(features.ctxt_length.numpy(), expected[f"{n}/ctxt_length"])
    _bf16_close(f"{n}/vtxt_raw", features.vtxt, expected[f"{n}/vtxt_raw"])
    _bf16_close(f"{n}/ctxt_raw", features.ctxt, expected[f"{n}/ctxt_raw"])
    truncated = int(expected[f"{n}/llm_attention_mask"].sum(1).max()) == te.llm_max_tokens
    if truncated:  # only when the prompt filled the window can we tell whether it was cut
        full = len(te.llm_tokenizer(str(expected[f"{n}/rendered_text"][0]))["input_ids"])
        assert bool(features.warnings) == (full > te.llm_max_tokens)


def test_text_encoder_fp32(text_encoder_fp32, expected, case_by_name, case_name):
    key = f"{case_name}/ctxt_raw_fp32"
    if key not in expected:
        pytest.skip(f"case {case_name} has no {key}")
    case = case_by_name[case_name]
    features = text_encoder_fp32.encode(case_prompts(case))
    assert record(key, features.ctxt, expected[key], FP32_LLM_TOL) <= FP32_LLM_TOL
