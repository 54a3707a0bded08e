"""Keep the timestep-embedding frequencies on the device.

The reference `sinusoidal_embedding` rebuilds its frequency table on the CPU and copies it to
the device on every call (three times per DiT call); that copy also forbids CUDA-graph capture.
Here each TimestepEncoder gets the same table, computed once by the same CPU expression (so the
values are bit-identical) and stored on the device.
"""

from __future__ import annotations

import types

import torch
from torch import Tensor, nn

from motionbridge.daemon.model.layers import TimestepEncoder


def _frequencies(dim: int, temperature: float = 10000.0) -> Tensor:
    half = dim // 2
    return torch.exp(-torch.log(torch.tensor(temperature)) * torch.arange(half, dtype=torch.float) / half)


def _forward(self: TimestepEncoder, t: Tensor) -> Tensor:
    args = (t * self.time_factor)[:, None].float() * self._freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if self.dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return self.blocks(emb).unsqueeze(1)


def tables_on_device(module: nn.Module, device: torch.device | str) -> int:
    """Patch every TimestepEncoder under `module`; returns how many were patched."""
    count = 0
    for sub in module.modules():
        if isinstance(sub, TimestepEncoder):
            sub._freqs = _frequencies(sub.dim).to(device)
            sub.forward = types.MethodType(_forward, sub)
            count += 1
    return count
