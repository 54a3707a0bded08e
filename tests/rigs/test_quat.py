"""quat.from_matrix (the clip-assembly hot path) against scipy, including the branch edges."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motionbridge.rigs import quat


def _canonical(q: np.ndarray) -> np.ndarray:
    return np.where(q[..., 3:] < 0, -q, q)


def test_from_matrix_matches_scipy_on_every_branch():
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(200, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    rotations = Rotation.concatenate([
        Rotation.random(2000, random_state=1),
        Rotation.from_rotvec(axes * np.pi),  # half turns: w = 0, the x / y / z branches
        Rotation.from_rotvec(axes * (np.pi - 1e-7)),
        Rotation.from_rotvec(axes * 1e-9),  # near identity: the w branch
        Rotation.from_matrix(np.stack([np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])])),
    ])
    got = quat.from_matrix(rotations.as_matrix().reshape(-1, 4, 3, 3))
    assert got.shape == (len(rotations) // 4, 4, 4)
    got = got.reshape(-1, 4)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-15)
    assert (got[:, 3] >= 0).all()
    want = _canonical(rotations.as_quat())  # scipy is (x, y, z, w) too
    # at w = 0, q and -q are both canonical: compare the rotations they make
    np.testing.assert_allclose(quat.to_matrix(got), rotations.as_matrix(), atol=1e-12)
    away = np.abs(want[:, 3]) > 1e-6
    np.testing.assert_allclose(got[away], want[away], atol=1e-12)
