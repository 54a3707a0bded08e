"""Device-side preparation of the DiT: timestep tables on the device, optional block compile.

Keep the timestep-embedding frequencies on the device.

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


def compile_blocks(dit: nn.Module, dynamic: bool | None = False) -> int:
    """Regional torch.compile: each transformer block is compiled once per block type (the
    blocks share code, their weights are graph inputs) with dynamic shapes, so Inductor fuses
    the many small elementwise ops (modulation, norms, RoPE, gates) that dominate at these sizes."""
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = max(64, torch._dynamo.config.cache_size_limit)
    blocks = [*dit.double_blocks, *dit.single_blocks, *dit.text_refiner.individual_token_refiner.blocks]
    for block in blocks:
        block.compile(dynamic=dynamic)
    return len(blocks)
