"""Random weights of a model configuration's real shapes, built on the target device.

Compiled code depends on the weights' shapes and dtypes, not their values, so random weights
compile the same kernels as the official ones: the compile child (engine/compile/child.py)
and `motionbridge warm --random` use them, and so do the benchmarks (daemon/bench/).
"""

from __future__ import annotations

import contextlib

import torch

from motionbridge.daemon.model.config import ModelConfig
from motionbridge.daemon.model.mmdit import MotionFlowModel


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """torch's default dtype set to `dtype` inside the block (modules built there are made in it)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@torch.no_grad()
def random_flow_model(cfg: ModelConfig, device: str, dtype: torch.dtype = torch.float32, seed: int = 0) -> MotionFlowModel:
    torch.manual_seed(seed)
    with torch.device(device), default_dtype(dtype):
        model = MotionFlowModel(cfg.network)
    for name, p in model.named_parameters():
        if p.ndim >= 2 or "feat" in name or "null" in name:
            p.normal_(std=0.02)
    model.mean = torch.randn(cfg.network.input_dim, device=device) * 0.5  # statistics stay float32
    model.std = torch.rand(cfg.network.input_dim, device=device) + 0.5
    return model.eval().requires_grad_(False)
