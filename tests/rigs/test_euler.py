"""rigs/euler.py: one Euler convention (rotate order, X/Y/Z angles) for the exporters and the DCCs."""

from __future__ import annotations

import numpy as np
import pytest

from motionbridge.rigs import quat
from motionbridge.rigs.euler import ORDERS, euler_degrees, quat_from_euler_degrees


def _about(axis: int, degrees: np.ndarray) -> np.ndarray:
    aa = np.zeros(np.shape(degrees) + (3,))
    aa[..., axis] = np.radians(degrees)
    return quat.from_axis_angle(aa)


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_round_trips(order):
    q = quat.normalize(np.random.default_rng(7).normal(size=(64, 4)))
    back = quat_from_euler_degrees(euler_degrees(q[:, None], order)[:, 0], order)
    np.testing.assert_allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_an_order_names_the_axes_as_they_are_applied(order):
    """'XYZ' turns about X first: R = Rz Ry Rx (FBX eEulerXYZ, Maya's rotateOrder xyz); angles are (x, y, z)."""
    angles = np.random.default_rng(1).uniform(-80, 80, size=(20, 3))
    first, second, third = ("XYZ".index(a) for a in order)
    r = quat.multiply(_about(third, angles[:, third]), quat.multiply(_about(second, angles[:, second]), _about(first, angles[:, first])))
    np.testing.assert_allclose(np.abs(np.sum(quat_from_euler_degrees(angles, order) * r, axis=-1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(euler_degrees(r[:, None], order)[:, 0], angles, atol=1e-9)


def test_x_then_y():
    # a 90-degree X turn takes +Y to +Z; then a 90-degree Y turn takes +Z to +X
    both = quat_from_euler_degrees(np.array([90.0, 90.0, 0.0]), "XYZ")
    np.testing.assert_allclose(quat.rotate(both, np.array([0, 1.0, 0])), [1, 0, 0], atol=1e-12)


def test_gimbal_lock_and_continuity():
    q = quat.normalize(np.random.default_rng(5).normal(size=(200, 4)))
    q[0] = quat.from_axis_angle(np.array([0.0, np.pi / 2, 0.0]))  # gimbal lock for XYZ
    back = quat_from_euler_degrees(euler_degrees(q[:, None], "XYZ")[:, 0], "XYZ")
    np.testing.assert_allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-9)
    # a steady spin about Z past 180 degrees stays continuous (no 360-degree jump between frames)
    spin = _about(2, np.linspace(0, 400, 81))[:, None]
    z = euler_degrees(spin, "XYZ")[:, 0, 2]
    assert np.max(np.abs(np.diff(z))) < 10 and z[-1] == pytest.approx(400)


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="rotation order must be one of"):
        euler_degrees(np.array([0, 0, 0, 1.0]), "XXY")
