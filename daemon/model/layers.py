"""Small building blocks of the HY-Motion MMDiT.

Attribute names (fc1, linears, blocks, linear...) are chosen so that state-dict keys equal
the official checkpoint's; the numerics follow the official op order, including the places
where the code forces float32 (RMSNorm, RoPE, timestep embedding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def activation(name: str) -> nn.Module:
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return nn.SiLU()
    raise ValueError(f"unknown activation {name!r}; use gelu, gelu_tanh, relu or silu")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        out = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x)
        return out * self.weight


def qk_norm(kind: str | None, dim: int) -> nn.Module:
    if kind == "rms":
        return RMSNorm(dim, eps=1e-6)
    if kind == "layer":
        return nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)
    return nn.Identity()


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


class Modulation(nn.Module):
    """act -> Linear(D, factor*D); the chunks are split by the caller."""

    def __init__(self, dim: int, factor: int, act: str = "silu") -> None:
        super().__init__()
        self.act = activation(act)
        self.linear = nn.Linear(dim, factor * dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.act(x))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = activation(act)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MLPEncoder(nn.Module):
    """Linear -> act -> Linear, stored as `linears.0` / `linears.2`."""

    def __init__(self, in_dim: int, dim: int, act: str = "silu") -> None:
        super().__init__()
        self.linears = nn.Sequential(nn.Linear(in_dim, dim), activation(act), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.linears(x)


def sinusoidal_embedding(t: Tensor, dim: int, time_factor: float = 1.0, temperature: float = 10000.0) -> Tensor:
    """[cos | sin] of t*time_factor at frequencies exp(-ln(T) i / half), float32."""
    if t.ndim != 1:
        raise ValueError(f"timesteps must be 1-D, got shape {tuple(t.shape)}")
    t = t * time_factor
    half = dim // 2
    freqs = torch.exp(-torch.log(torch.tensor(temperature)) * torch.arange(half, dtype=torch.float) / half).to(t.device)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimestepEncoder(nn.Module):
    """Sinusoidal embedding -> Linear -> act -> Linear, output (B, 1, D)."""

    def __init__(self, dim: int, act: str = "silu", time_factor: float = 1.0) -> None:
        super().__init__()
        self.dim = dim
        self.time_factor = time_factor
        self.blocks = nn.Sequential(nn.Linear(dim, dim), activation(act), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.blocks(sinusoidal_embedding(t, self.dim, self.time_factor)).unsqueeze(1)


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out_dim: int, act: str = "silu") -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = Modulation(dim, 2, act)
        self.linear = nn.Linear(dim, out_dim)

    def forward(self, x: Tensor, adapter: Tensor, mods: Tensor | None = None) -> Tensor:
        shift, scale = (self.adaLN_modulation(adapter) if mods is None else mods).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


def rope_tables(positions: Tensor, head_dim: int, temperature: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos/sin tables (S, head_dim) for interleaved-pair RoPE at the given float positions."""
    dim_t = torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device)
    freqs = 1.0 / (temperature ** (2 * torch.div(dim_t, 2, rounding_mode="trunc") / head_dim))
    angles = torch.outer(positions.float(), freqs)
    return angles.cos().repeat_interleave(2, dim=1), angles.sin().repeat_interleave(2, dim=1)


def _rotate_pairs(x: Tensor) -> Tensor:
    even, odd = x.float().reshape(*x.shape[:-1], -1, 2).unbind(-1)
    return torch.stack([-odd, even], dim=-1).flatten(3)


def apply_rope(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor]:
    """q, k: (B, S, H, Dh); cos/sin: (S, Dh). Computed in float32 like the official code."""
    cos = cos[None, :, None, :]
    sin = sin[None, :, None, :]
    q_out = (q.float() * cos + _rotate_pairs(q.float()) * sin).type_as(q)
    k_out = (k.float() * cos + _rotate_pairs(k.float()) * sin).type_as(k)
    return q_out, k_out


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """(B, S, H, Dh) inputs, additive float mask (B, 1, S, S); returns (B, S, H*Dh)."""
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out = out.transpose(1, 2)
    return out.reshape(out.shape[0], out.shape[1], -1)


def split_heads(qkv: Tensor, num_heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """(B, L, 3*H*Dh) laid out [q | k | v], heads contiguous -> three (B, L, H, Dh) views."""
    b, length, _ = qkv.shape
    parts = qkv.reshape(b, length, 3, num_heads, -1).permute(2, 0, 1, 3, 4)
    return parts[0], parts[1], parts[2]


__all__ = [
    "activation", "RMSNorm", "qk_norm", "modulate", "Modulation", "MLP", "MLPEncoder",
    "sinusoidal_embedding", "TimestepEncoder", "FinalLayer", "rope_tables", "apply_rope",
    "attention", "split_heads",
]
