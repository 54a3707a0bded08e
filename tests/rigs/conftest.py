from __future__ import annotations

import sys
from pathlib import Path

import pytest

from motionbridge.rigs.synthetic import MOTIONS

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # helper modules beside this file (rig_files) are importable
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session")
def motions():
    """The synthetic SMPL-X clips (2 s at 30 fps), built once."""
    return {name: make() for name, make in MOTIONS.items()}
