"""The parity fixture as a reference engine, one torch thread (faster on a shared 2-core box)."""

from __future__ import annotations

import contextlib

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
