"""The token refiner: a few self-attention blocks over the projected LLM tokens, gated by
a conditioning vector from the timestep (unscaled, factor 1) and the masked mean token."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import MLP, MLPEncoder, Modulation, TimestepEncoder, attention, qk_norm, split_heads


class RefinerBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, act: str = "silu", norm: str = "layer") -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)
        self.self_attn_qkv = nn.Linear(dim, 3 * dim)
        self.self_attn_q_norm = qk_norm(norm, head_dim)
        self.self_attn_k_norm = qk_norm(norm, head_dim)
        self.self_attn_proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio), act)
        self.adaLN_modulation = Modulation(dim, 2)

    def forward(self, x: Tensor, c: Tensor, mask: Tensor | None) -> Tensor:
        gate_attn, gate_mlp = self.adaLN_modulation(c).chunk(2, dim=-1)
        q, k, v = split_heads(self.self_attn_qkv(self.norm1(x)), self.num_heads)
        q = self.self_attn_q_norm(q).to(v)
        k = self.self_attn_k_norm(k).to(v)
        x = x + self.self_attn_proj(attention(q, k, v, mask)) * gate_attn
        return x + self.mlp(self.norm2(x)) * gate_mlp


class _Blocks(nn.Module):
    """Holds the blocks under `individual_token_refiner.blocks.N` (the official key path)."""

    def __init__(self, blocks: list[RefinerBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


def refiner_mask(valid: Tensor) -> Tensor:
    """(B, L) bool -> additive (B, 1, L, L): query and key valid; empty rows see themselves."""
    length = valid.shape[1]
    allowed = valid[:, None, None, :] & valid[:, None, :, None]
    empty_rows = ~allowed.any(dim=-1, keepdim=True)
    eye = torch.eye(length, dtype=torch.bool, device=valid.device).view(1, 1, length, length)
    allowed = torch.where(empty_rows, eye, allowed)
    zero = torch.zeros((), dtype=torch.float, device=valid.device)
    return torch.where(allowed, zero, torch.full((), float("-inf"), device=valid.device))


class TokenRefiner(nn.Module):
    def __init__(self, dim: int, num_heads: int, num_layers: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.input_embedder = nn.Linear(dim, dim)
        self.context_encoder = MLPEncoder(dim, dim, "silu")
        self.timestep_encoder = TimestepEncoder(dim, "silu", time_factor=1.0)
        self.individual_token_refiner = _Blocks([RefinerBlock(dim, num_heads, mlp_ratio) for _ in range(num_layers)])

    def forward(self, x: Tensor, t: Tensor, valid: Tensor, eager_blocks: bool = False) -> Tensor:
        """`eager_blocks`: call each block's own forward, bypassing a torch.compile wrapper."""
        weights = valid.float().unsqueeze(-1)
        mean = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-6)
        c = self.timestep_encoder(t) + self.context_encoder(mean).unsqueeze(1)
        x = self.input_embedder(x)
        mask = refiner_mask(valid)
        for block in self.individual_token_refiner.blocks:
            x = block.forward(x, c, mask) if eager_blocks else block(x, c, mask)
        return x
