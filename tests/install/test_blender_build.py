"""Which wheels the Blender extension zip carries: they must match the Python of that Blender."""

from __future__ import annotations

import argparse

import pytest


@pytest.mark.parametrize(("wheel", "python", "fits"), [
    ("pyzmq-27.3.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.11", True),
    ("pyzmq-27.3.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.13", False),
    ("pyzmq-27.3.0-cp313-cp313-win_amd64.whl", "3.13", True),
    ("pygltflib-1.16.5-py3-none-any.whl", "3.14", True),
    ("deprecated-1.3.1-py2.py3-none-any.whl", "3.11", True),
    ("cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", "3.13", True),
    ("cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", "3.8", False),
    ("not-a-wheel.whl", "3.11", False),
])
def test_wheel_fits_blenders_python(wheel, python, fits):
    from motionbridge.install.blender_build import wheel_fits

    assert wheel_fits(wheel, python) is fits


def test_install_downloads_wheels_for_that_blender(tmp_path):
    """The CLI hands Blender's Python to the wheel download (cp313 for 5.1+, not always cp311)."""
    from motionbridge.install import cli_blender

    seen = []
    args = argparse.Namespace(wheels_dir=None, wheel_platform=[])
    original = cli_blender.download_wheels
    cli_blender.download_wheels = lambda dest, plats, py: seen.append(py) or []
    try:
        cli_blender._wheels(args, "3.13", tmp_path)
    finally:
        cli_blender.download_wheels = original
    assert seen == ["3.13"]
