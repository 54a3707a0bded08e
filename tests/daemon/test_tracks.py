"""Decoded model output -> SMPL-X Clip: rotations, root translation, world positions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionbridge.daemon.tracks import clip_from_rotations, clips_from_decoded
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, SMPLX_FROM_SMPLH, load_body_model


@pytest.fixture(scope="module")
def decoded(parity, tmp_path_factory):
    """The fixture's first case, decoded from its stored latent (no sampling needed)."""
    import os

    os.environ.setdefault("MOTIONBRIDGE_HOME", str(tmp_path_factory.mktemp("home")))
    from motionbridge.daemon.model.decode import BodyModel, decode_latent
    from motionbridge.daemon.model.loading import load_model

    case = json.loads((parity / "cases.json").read_text())["cases"][0]
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        exp = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(case["name"] + "/")}
    model = load_model(parity / "model").model
    out = decode_latent(torch.from_numpy(exp["latent"]), model.mean, model.std, BodyModel())
    return case, exp, out


def test_clip_layout(decoded):
    case, exp, out = decoded
    from fixture_cases import case_prompts

    prompts = case_prompts(case)
    clips = clips_from_decoded(out, [{"prompt": p, "seed": s} for p, s in zip(prompts, case["seeds"])])
    assert len(clips) == len(case["seeds"])
    clip = clips[0]
    assert clip.skeleton.num_joints == 55 and clip.fps == 30 and clip.num_frames == case["length"]
    assert clip.metadata["prompt"] == prompts[0] and "motionbridge_version" in clip.metadata
    # fingers, jaw and eyes stay at rest; the body is animated
    rest = np.tile([0.0, 0.0, 0.0, 1.0], (clip.num_frames, 55 - NUM_BODY_JOINTS, 1))
    np.testing.assert_allclose(np.abs(clip.rotations[:, NUM_BODY_JOINTS:]), rest, atol=1e-12)
    assert np.abs(clip.rotations[:, :NUM_BODY_JOINTS, 3]).min() < 0.999


def test_world_positions_match_the_decoder(decoded):
    """FK of the clip == the decoder's joints placed by the translation. The decoder subtracts
    the ground offset from both keypoints3d and transl, so their plain sum is min_y too low;
    the clip places the body once: world = keypoints3d + transl + min_y (y only)."""
    _, exp, out = decoded
    for b, clip in enumerate(clips_from_decoded(out)):
        _, world = clip.world()
        want = exp["keypoints3d"][b] + exp["transl"][b][:, None, :]
        want[..., 1] += exp["min_y"][b]
        np.testing.assert_allclose(world[:, SMPLX_FROM_SMPLH], want, atol=1e-4)
        root_rest = load_body_model().j_template[0]
        np.testing.assert_allclose(clip.root_translation, exp["transl"][b] + root_rest, atol=1e-5)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rotations"):
        clip_from_rotations(np.zeros((4, 21, 3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="translation"):
        clip_from_rotations(np.tile(np.eye(3), (4, 22, 1, 1)), np.zeros((5, 3)))


def test_fixture_cases_with_batched_prompts_and_other_names():
    """The harness reads any fixture made the same way: prompts given once or one per seed."""
    from fixture_cases import case_prompts, single_prompt

    same = {"name": "walk_01", "text": "A person walks.", "seeds": [3, 7]}
    mixed = {"name": "x", "text": ["A person walks.", "A person jumps."], "seeds": [0, 1]}
    assert case_prompts(same) == ["A person walks.", "A person walks."] and single_prompt(same) == "A person walks."
    assert case_prompts(mixed) == ["A person walks.", "A person jumps."] and single_prompt(mixed) is None
    assert single_prompt({"name": "y", "text": ["A", "A"], "seeds": [1, 2]}) == "A"
    with pytest.raises(ValueError, match="one string per seed"):
        case_prompts({"name": "z", "text": ["A person walks."], "seeds": [0, 1]})
