from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import Clip, RigError, Skeleton, quat
from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES, load_body_model, smplx_skeleton


def test_smplx_rest_matches_body_model():
    skel = smplx_skeleton()
    assert skel.num_joints == 55 and skel.names == SMPLX_JOINT_NAMES
    _, pos = skel.rest_world()
    body = load_body_model()
    # body joints and fingers take the wooden model's rest joints exactly
    np.testing.assert_allclose(pos[:22], body.j_template[:22], atol=1e-6)
    np.testing.assert_allclose(pos[25:], body.j_template[22:], atol=1e-6)


def test_fk_rotating_root_rotates_every_joint_about_it():
    skel = smplx_skeleton()
    q = quat.from_axis_angle(np.array([0.0, np.pi / 2, 0.0]))
    rot = np.tile(quat.IDENTITY, (1, 55, 1))
    rot[0, 0] = q
    root = skel.rest_translations[0][None]
    _, pos = Clip(skel, rot, root, 30.0).world()
    _, rest = skel.rest_world()
    expected = rest[0] + quat.rotate(q, rest - rest[0])
    np.testing.assert_allclose(pos[0], expected, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(names=("a", "a")), "duplicate"),
        (dict(parents=[-1, 1]), "before its parent"),
        (dict(parents=[-1, 5]), r"joint 'b' comes before its parent \(index 5\)"),
        (dict(parents=[-1, -2]), "joint 'b' has an invalid parent index -2"),
        (dict(rest_translations=[[0, 0, 0], [np.nan, 0, 0]]), "NaN"),
        (dict(rest_rotations=[[0, 0, 0, 1], [0, 0, 0, 2]]), "unit quaternions"),
    ],
)
def test_bad_skeletons_are_refused(kwargs, message):
    base = dict(names=("a", "b"), parents=[-1, 0], rest_translations=np.zeros((2, 3)), rest_rotations=[[0, 0, 0, 1]] * 2)
    base.update(kwargs)
    with pytest.raises(RigError, match=message):
        Skeleton(**base)


def test_bad_clips_are_refused():
    skel = smplx_skeleton()
    rot = np.tile(quat.IDENTITY, (4, 55, 1))
    with pytest.raises(RigError, match="fps"):
        Clip(skel, rot, np.zeros((4, 3)), 0.0)
    rot[1, 3] = np.nan
    with pytest.raises(RigError, match="NaN"):
        Clip(skel, rot, np.zeros((4, 3)), 30.0)


def test_matrix_quaternion_round_trip():
    rng = np.random.default_rng(0)
    q = quat.normalize(rng.normal(size=(100, 4)))
    q[q[:, 3] < 0] *= -1
    np.testing.assert_allclose(quat.from_matrix(quat.to_matrix(q)), q, atol=1e-12)
    np.testing.assert_allclose(quat.from_axis_angle(quat.to_axis_angle(q)), q, atol=1e-12)
