"""Fixtures of the daemon tests: helper modules beside this file are importable."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(scope="session")
def stats(parity):
    """The parity model's latent statistics (mean, std), float32 as the engines hold them."""
    mean = torch.from_numpy(np.load(parity / "model" / "stats" / "Mean.npy", allow_pickle=False)).float()
    std = torch.from_numpy(np.load(parity / "model" / "stats" / "Std.npy", allow_pickle=False)).float()
    return mean, std


@pytest.fixture(scope="session")
def llm_max_length(parity):
    """The fixture model's LLM token limit (`max_length_llm` of its config.yml)."""
    from motionbridge.daemon.model.config import load_config

    return load_config(parity / "model" / "config.yml").pipeline.max_length_llm


@pytest.fixture()
def qwen_copy(parity, tmp_path):
    """A writable copy of the fixture's Qwen3 folder, for tests that break its checkpoint."""
    import shutil

    dst = tmp_path / "qwen3"
    shutil.copytree(parity / "text_encoders" / "qwen3", dst)
    for path in dst.iterdir():
        path.chmod(0o644)
    return dst
