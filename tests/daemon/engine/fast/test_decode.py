"""The batched decode equals the reference decode (same official maths, no joint loop)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixture_cases import multi_seed_case

from motionbridge.daemon.engine.fast.decode import LevelBody, decode_batched, top_eigenvector
from motionbridge.daemon.model.decode import BodyModel, decode_latent


def test_top_eigenvector_matches_eigh():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(500, 9, 4, generator=g, dtype=torch.float64), dim=-1)
    w = torch.rand(9, generator=g, dtype=torch.float64)
    acc = torch.einsum("nki,nkj,k->nij", q, q, w)
    ours = top_eigenvector(acc)
    ref = torch.linalg.eigh(acc)[1][..., -1]
    assert float((ours * ref).sum(-1).abs().min()) > 1 - 1e-12  # same line, sign free


def test_level_fk_equals_joint_loop():
    body = BodyModel()
    a = torch.randn(7, body.num_joints, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rot = torch.linalg.matrix_exp(a - a.transpose(-1, -2))  # random rotations
    ref_r, ref_t = body.pose(rot)
    r, t = LevelBody(body, "cpu").pose(rot)
    torch.testing.assert_close(r, ref_r, atol=1e-12, rtol=0)
    torch.testing.assert_close(t, ref_t, atol=1e-12, rtol=0)


def test_decode_matches_reference_and_official(parity, expected, cases):
    mean = torch.from_numpy(np.load(parity / "model" / "stats" / "Mean.npy", allow_pickle=False)).float()
    std = torch.from_numpy(np.load(parity / "model" / "stats" / "Std.npy", allow_pickle=False)).float()
    body = BodyModel()
    batch = multi_seed_case(cases)  # public fixture: B, 2 seeds
    latent = torch.from_numpy(expected[f"{batch}/latent"])
    ours = decode_batched(latent, mean, std, LevelBody(body, "cpu"))
    ref = decode_latent(latent, mean, std, body)
    for name in ("rot6d", "transl", "keypoints3d", "min_y", "root_rotations_mat"):
        torch.testing.assert_close(getattr(ours, name), getattr(ref, name), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.keypoints3d, torch.from_numpy(expected[f"{batch}/keypoints3d"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.transl, torch.from_numpy(expected[f"{batch}/transl"]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("private_edge_fit", [True, False])
def test_savgol_translation_is_scipys_filter_bit_for_bit(private_edge_fit, monkeypatch):
    """The staged filter with cached coefficients gives scipy's savgol_filter exactly, and
    falls back to the public call where scipy's private edge fit is gone."""
    from scipy.signal import savgol_filter

    from motionbridge.daemon.engine.fast import decode as fast_decode
    from motionbridge.daemon.engine.fast.decode import savgol_translation

    assert fast_decode._scipy_edge_fit() is not None  # the staged path is what runs here
    if not private_edge_fit:
        monkeypatch.setattr(fast_decode, "_scipy_edge_fit", lambda: None)
    data = np.random.default_rng(3).normal(size=(3, 150, 3)).astype(np.float32)
    want = savgol_filter(data, 11, 5, axis=1).astype(np.float32)
    for _ in range(2):  # the second call uses the cached coefficients
        got = savgol_translation(data)
        assert got.dtype == np.float32 and np.array_equal(got, want)
    assert not np.array_equal(savgol_translation(data, 9, 3), want)


def test_a_changed_private_edge_fit_is_not_used(monkeypatch):
    """The staged filter leans on scipy's private `_fit_edges_polyfit`: one whose signature
    changed (it raises), or a staging that no longer reproduces the public filter, is rejected
    at first use and the public call runs instead."""
    from scipy.signal import _savitzky_golay

    from motionbridge.daemon.engine.fast import decode as fast_decode

    def changed_signature(*args):
        raise TypeError("_fit_edges_polyfit() takes 6 positional arguments")

    try:
        fast_decode._scipy_edge_fit.cache_clear()
        assert fast_decode._scipy_edge_fit() is not None
        fast_decode._scipy_edge_fit.cache_clear()
        with monkeypatch.context() as m:
            m.setattr(_savitzky_golay, "_fit_edges_polyfit", changed_signature)
            assert fast_decode._scipy_edge_fit() is None
        fast_decode._scipy_edge_fit.cache_clear()
        with monkeypatch.context() as m:  # staged with other coefficients than scipy's own
            m.setattr(fast_decode, "_savgol_coeffs", lambda w, p: np.full(w, 1.0 / w))
            assert fast_decode._scipy_edge_fit() is None
    finally:
        fast_decode._scipy_edge_fit.cache_clear()
