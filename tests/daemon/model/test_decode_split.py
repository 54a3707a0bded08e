"""The decode in three parts (pose, translation, ground alignment) gives bit for bit what the
one-piece decode gave before the split; `old_decode_latent` is that decode, frozen here."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from motionbridge.daemon.engine.fast import decode as fast_decode
from motionbridge.daemon.model.decode import (
    NUM_MODEL_JOINTS,
    BodyModel,
    DecodedMotion,
    decode_latent,
    denormalize,
    full_rotations,
    rot6d_to_matrix,
    smooth_rotations,
    smooth_translation,
)

FIELDS = ("latent_denorm", "rot6d", "transl", "keypoints3d", "root_rotations_mat", "min_y")


def old_decode_latent(latent, mean, std, body, smooth=True, smooth_rot=None, smooth_transl=None) -> DecodedMotion:
    latent = latent.float()
    denorm = denormalize(latent, mean.to(latent.device), std.to(latent.device))
    b, length = denorm.shape[:2]
    transl = denorm[..., 0:3]
    rot6d = denorm[..., 3 : 3 + 6 * NUM_MODEL_JOINTS].reshape(b, length, NUM_MODEL_JOINTS, 6)
    if smooth:
        rot6d = (smooth_rot or smooth_rotations)(rot6d)
        transl = (smooth_transl or smooth_translation)(transl)
    rotm = rot6d_to_matrix(rot6d)
    rot64 = full_rotations(rotm.double().reshape(b * length, NUM_MODEL_JOINTS, 3, 3), body.num_joints)
    world_r, joints = body.pose(rot64.to(body.j_template.device))
    heights = body.vertex_y(world_r, joints).reshape(b, length, -1) + transl[..., 1:2].double().to(joints.device)
    min_y = heights.amin(dim=(1, 2)).to(torch.float32).to(latent.device)
    k3d = joints.reshape(b, length, body.num_joints, 3).to(torch.float32).to(latent.device).clone()
    k3d[..., 1] -= min_y[:, None, None]
    transl = transl.clone()
    transl[..., 1] -= min_y[:, None]
    return DecodedMotion(denorm, rot6d, transl, k3d, rotm[:, :, 0], min_y)


def first_difference(new: DecodedMotion, old: DecodedMotion) -> str:
    for name in FIELDS:
        a, b = getattr(new, name), getattr(old, name)
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{name}: {a.dtype} {tuple(a.shape)} vs {b.dtype} {tuple(b.shape)}"
        if not torch.equal(a, b):
            return f"{name}: max diff {float((a.double() - b.double()).abs().max()):.3g}"
    if not torch.equal(new.rotations(), old.rotations()):
        return "rotations()"
    return ""


def assert_same_as_old(label: str, decode_new, decode_old) -> None:
    """On a difference, also says whether the old decode reproduces itself on a second run
    (telling a change of the split from run-to-run noise of the libraries underneath)."""
    old = decode_old()
    diff = first_difference(decode_new(), old)
    if diff:
        again = first_difference(decode_old(), old)
        pytest.fail(f"{label}: {diff}; the old decode run again " + (f"differs from itself too ({again})" if again else "reproduces itself"))


@pytest.fixture(scope="module")
def latents(parity):
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        out = {k: torch.from_numpy(data[k]) for k in data.files if k.endswith("/latent")}
    out["random"] = torch.randn(3, 41, 201, generator=torch.Generator().manual_seed(7))
    return out


@pytest.mark.parametrize("smooth", [True, False])
def test_reference_decode_unchanged_by_the_split(stats, latents, smooth):
    body = BodyModel()
    for key, latent in latents.items():
        args = (latent, *stats, body, smooth)
        assert_same_as_old(key, partial(decode_latent, *args), partial(old_decode_latent, *args))


@pytest.mark.parametrize("smooth", [True, False])
def test_batched_decode_unchanged_by_the_split(stats, latents, smooth):
    body = fast_decode.LevelBody(BodyModel(), "cpu")
    fast = {"smooth_rot": fast_decode.smooth_rotations, "smooth_transl": fast_decode.smooth_translation_batched}
    for key, latent in latents.items():
        args = (latent, *stats, body, smooth)
        assert_same_as_old(key, partial(decode_latent, *args, **fast), partial(old_decode_latent, *args, **fast))


def test_lowest_vertex_first_then_translation_is_exact():
    """Why the split may take each frame's lowest vertex before adding the translation:
    rounding is monotonic, so min(y) + t == min(y + t) in floating point, whatever the scales."""
    g = torch.Generator().manual_seed(3)
    y = torch.randn(4, 300, 500, generator=g, dtype=torch.float64) * torch.logspace(-8, 3, 500, dtype=torch.float64)
    t = torch.randn(4, 300, generator=g, dtype=torch.float64) * torch.logspace(-6, 4, 300, dtype=torch.float64)
    full = (y + t[..., None]).amin(dim=(1, 2))
    split = (y.amin(-1) + t).amin(1)
    assert torch.equal(split, full)
    # the data exercises rounding: adding t and taking it away again does not give y back
    assert not torch.equal(y + t[..., None] - t[..., None], y)
