from __future__ import annotations

import pytest

from motionbridge.rigs.synthetic import MOTIONS


@pytest.fixture(scope="session")
def motions():
    """The synthetic SMPL-X clips (2 s at 30 fps), built once."""
    return {name: make() for name, make in MOTIONS.items()}
