"""Which wheels the Blender extension zip carries: they must match the Python of that Blender."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("version", "python"), [("4.2", "3.11"), ("4.5", "3.11"), ("5.0", "3.11"), ("5.1", "3.13"), ("5.2.2", "3.13"), (None, "3.11")])
def test_wheels_follow_blenders_python(version, python):
    from motionbridge.install.blender_build import python_for_blender

    assert python_for_blender(version) == python


def test_bad_blender_version_says_what_to_pass():
    from motionbridge.install.blender_build import BuildError, python_for_blender

    with pytest.raises(BuildError, match="MAJOR.MINOR"):
        python_for_blender("latest")


def test_install_downloads_wheels_for_that_blender(tmp_path):
    """The CLI hands Blender's Python to the wheel download (cp313 for 5.1+, not always cp311)."""
    import argparse

    from motionbridge.install.cli import _wheels

    seen = []
    args = argparse.Namespace(wheels_dir=None, wheel_platform=[])
    _wheels(args, None, lambda dest, plats, py: seen.append(py) or [], tmp_path, "3.13")
    assert seen == ["3.13"]
