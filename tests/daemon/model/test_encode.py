"""The encoder is the decoder's inverse: decode(encode(take)) == take, and encode(decode(z))
is z's projection onto what the decoder reads (a fixed point from then on)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionbridge.daemon.model import encode
from motionbridge.daemon.model.decode import decode_latent, rot6d_to_matrix
from motionbridge.daemon.tracks import clips_from_decoded
from motionbridge.rigs import quat
from motionbridge.rigs.synthetic import MOTIONS


def stats(pipeline, revive: bool):
    """The fixture's mean/std; `revive` gives its five deliberately dead channels (std < 1e-3,
    see shared/parity README) a std of 1 so every channel can be checked."""
    mean, std = pipeline.model.get_buffer("mean").clone(), pipeline.model.get_buffer("std").clone()
    if revive:
        std[std < encode.STD_EPS] = 1.0
    return mean, std


def decode_to_clip(latent: np.ndarray, pipeline, mean, std):
    z = torch.as_tensor(latent, dtype=torch.float32)[None]
    return clips_from_decoded(decode_latent(z, mean, std, pipeline.body, smooth=False))[0]


def rotation_error_deg(a, b) -> float:
    dot = np.abs(np.sum(quat.normalize(a) * quat.normalize(b), axis=-1))
    return float(np.degrees(2 * np.arccos(np.clip(dot, -1, 1))).max())


@pytest.mark.parametrize("motion", sorted(MOTIONS))
def test_decode_of_encode_gives_the_take_back(pipeline, motion):
    mean, std = stats(pipeline, revive=True)
    take = MOTIONS[motion]()
    once = decode_to_clip(encode.encode_clip(take, mean.numpy(), std.numpy()), pipeline, mean, std)
    # the decoder puts the take's lowest vertex on y = 0: the first pass may only shift it up or down
    shift = once.root_translation - take.root_translation
    assert np.abs(shift[:, [0, 2]]).max() < 1e-5 and np.ptp(shift[:, 1]) < 1e-5
    assert rotation_error_deg(once.rotations[:, :22], take.rotations[:, :22]) < 1e-3
    # a grounded take comes back exactly: joint positions within 10 micrometres
    twice = decode_to_clip(encode.encode_clip(once, mean.numpy(), std.numpy()), pipeline, mean, std)
    assert np.abs(twice.world()[1] - once.world()[1]).max() < 1e-5
    assert rotation_error_deg(twice.rotations, once.rotations) < 1e-3


@pytest.mark.parametrize("revive", [False, True], ids=["fixture_stats", "revived_stats"])
def test_encode_of_a_sampled_latent_projects_it_onto_the_decoders_reading(pipeline, expected, case_by_name, revive):
    from fixture_cases import multi_seed_case

    mean, std = stats(pipeline, revive)
    live = encode.live_channels(std.numpy())
    first, batch = next(iter(case_by_name)), multi_seed_case(case_by_name)  # public fixture: A, B
    for z in expected[f"{first}/latent"][0], expected[f"{batch}/latent"][-1]:
        take = decode_to_clip(z, pipeline, mean, std)
        z1 = encode.encode_clip(take, mean.numpy(), std.numpy())
        assert (z1[:, ~live] == 0).all()
        # rotations: z1 holds the orthonormalised columns of z's rot6d (what the decoder reads)
        denorm = torch.as_tensor(z) * torch.where(std < encode.STD_EPS, 0, std) + mean
        r = rot6d_to_matrix(denorm[:, encode.ROTATIONS].reshape(-1, 22, 6)).double().numpy()
        got = z1[:, encode.ROTATIONS] * np.where(live, std.numpy(), 0)[encode.ROTATIONS] + mean.numpy()[encode.ROTATIONS]
        want = r[..., :, :2].reshape(-1, 22 * 6)
        assert np.abs(got - want)[:, live[encode.ROTATIONS]].max() < 1e-5  # a dead channel reads the mean
        # translation: z's, less the decoder's ground offset in y
        t = denorm[:, :3].numpy()
        t1 = z1[:, :3] * np.where(live, std.numpy(), 0)[:3] + mean.numpy()[:3]
        assert np.abs(t1[:, [0, 2]] - t[:, [0, 2]]).max() < 1e-5 and np.ptp(t1[:, 1] - t[:, 1]) < 1e-5
        if not revive:  # a dead rotation channel reads the mean, so those joints differ each pass
            continue
        # from then on a fixed point: encode(decode(z1)) == z1
        z2 = encode.encode_clip(decode_to_clip(z1, pipeline, mean, std), mean.numpy(), std.numpy())
        # compared in motion units: channel 99's std is 1e-3, so z there magnifies float32 rounding 1000x
        assert (np.abs(z2 - z1) * std.numpy()).max() < 1e-6


def test_position_block_is_root_relative_forward_kinematics():
    take = MOTIONS["walking"]()
    rotations, transl = encode.model_pose(take)
    feats = encode.motion_features(rotations, transl)
    _, world = take.world()
    want = world[:, :22] - world[:, :1]  # FK minus the root joint: HY-Motion issue #39, definition (A)
    assert np.abs(feats[:, encode.POSITIONS].reshape(-1, 22, 3) - want).max() < 1e-9
    assert np.abs(feats[:, encode.TRANSL] - (take.root_translation - take.skeleton.rest_translations[0])).max() < 1e-12


def test_a_take_on_another_skeleton_is_refused():
    from motionbridge.rigs import retarget
    from motionbridge.rigs.humanoid import build_rig

    on_rig = retarget(MOTIONS["waving"](), build_rig("mixamo")).clip
    with pytest.raises(ValueError, match="SMPL-X"):
        encode.model_pose(on_rig)
