"""The parity fixture as a reference engine, one torch thread (faster on a shared 2-core box)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def engine(parity):
    from motionbridge.daemon.engine.reference import ReferenceEngine

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ReferenceEngine.from_parity(parity)
    torch.set_num_threads(old)


@contextlib.contextmanager
def revived(engine):
    """The fixture deliberately zeroes five std entries (root height, two rotation channels,
    two position channels: shared/parity README): the decoder reads the mean there, so no
    constraint can move them. Within this block they get a std of 1 (restored after)."""
    std = engine.pipeline.model.get_buffer("std")
    saved = std.clone()
    std[std < 1e-3] = 1.0
    try:
        yield
    finally:
        std.copy_(saved)


SMOOTH = Path(__file__).resolve().parents[2] / "fixtures" / "smooth_model"


@pytest.fixture(scope="session")
def smooth_engine(parity):
    """The smooth fixture (tests/fixtures/smooth_model: HY-Motion's architecture trained on
    synthetic motion) through the normal loading code, with the parity fixture's text encoders."""
    from motionbridge.daemon.engine.reference import ReferenceEngine

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    te = parity / "text_encoders"
    yield ReferenceEngine.from_dirs(SMOOTH, te / "qwen3", te / "clip")
    torch.set_num_threads(old)
