"""Double-stream (separate motion/text weights, joint attention) and single-stream blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import NetworkConfig
from .layers import MLP, Modulation, activation, apply_rope, attention, modulate, qk_norm, split_heads


class DoubleStreamBlock(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        d, hd, act = cfg.feat_dim, cfg.head_dim, cfg.mlp_act_type
        self.num_heads = cfg.num_heads
        # attribute names are the official state-dict keys: motion_* and text_* streams
        self.motion_mod = Modulation(d, 6)
        self.motion_norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.motion_qkv = nn.Linear(d, 3 * d, bias=cfg.qkv_bias)
        self.motion_q_norm = qk_norm(cfg.qk_norm_type, hd)
        self.motion_k_norm = qk_norm(cfg.qk_norm_type, hd)
        self.motion_out_proj = nn.Linear(d, d, bias=cfg.qkv_bias)
        self.motion_norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.motion_mlp = MLP(d, cfg.mlp_hidden_dim, act)
        self.text_mod = Modulation(d, 6)
        self.text_norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.text_qkv = nn.Linear(d, 3 * d, bias=cfg.qkv_bias)
        self.text_q_norm = qk_norm(cfg.qk_norm_type, hd)
        self.text_k_norm = qk_norm(cfg.qk_norm_type, hd)
        self.text_out_proj = nn.Linear(d, d, bias=cfg.qkv_bias)
        self.text_norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.text_mlp = MLP(d, cfg.mlp_hidden_dim, act)

    def _qkv(self, norm: nn.Module, qkv: nn.Linear, q_norm: nn.Module, k_norm: nn.Module, feat: Tensor, shift: Tensor, scale: Tensor):
        q, k, v = split_heads(qkv(modulate(norm(feat), shift, scale)), self.num_heads)
        return q_norm(q).to(v), k_norm(k).to(v), v

    @staticmethod
    def _finish(out_proj: nn.Linear, norm2: nn.Module, mlp: MLP, feat: Tensor, attn: Tensor, mods: tuple[Tensor, ...]) -> Tensor:
        _, _, gate_attn, shift_mlp, scale_mlp, gate_mlp = mods
        feat = feat + out_proj(attn) * gate_attn
        return feat + mlp(modulate(norm2(feat), shift_mlp, scale_mlp)) * gate_mlp

    @staticmethod
    def _joint_attention(mq, mk, mv, tq, tk, tv, cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
        """Motion tokens first, then text tokens: RoPE over the joined sequence, one attention."""
        q, k = apply_rope(torch.cat((mq, tq), 1), torch.cat((mk, tk), 1), cos, sin)
        return attention(q, k, torch.cat((mv, tv), 1), mask)

    def forward(
        self, motion: Tensor, text: Tensor, adapter: Tensor, mask: Tensor, rope: tuple[Tensor, Tensor],
        mods: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """`mods`: this block's (motion, text) modulation outputs, when computed in one fused call."""
        m_out, t_out = mods if mods is not None else (self.motion_mod(adapter), self.text_mod(adapter))
        m_mods = m_out.chunk(6, dim=-1)
        t_mods = t_out.chunk(6, dim=-1)
        mq, mk, mv = self._qkv(self.motion_norm1, self.motion_qkv, self.motion_q_norm, self.motion_k_norm, motion, m_mods[0], m_mods[1])
        tq, tk, tv = self._qkv(self.text_norm1, self.text_qkv, self.text_q_norm, self.text_k_norm, text, t_mods[0], t_mods[1])
        attn = self._joint_attention(mq, mk, mv, tq, tk, tv, *rope, mask)
        split = motion.shape[1]
        motion = self._finish(self.motion_out_proj, self.motion_norm2, self.motion_mlp, motion, attn[:, :split], m_mods)
        text = self._finish(self.text_out_proj, self.text_norm2, self.text_mlp, text, attn[:, split:], t_mods)
        return motion, text


class SingleStreamBlock(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        d, hd = cfg.feat_dim, cfg.head_dim
        self.num_heads = cfg.num_heads
        self.feat_dim = d
        self.mlp_hidden_dim = cfg.mlp_hidden_dim
        self.modulation = Modulation(d, 3)
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.linear1 = nn.Linear(d, 3 * d + self.mlp_hidden_dim, bias=cfg.qkv_bias)
        self.linear2 = nn.Linear(d + self.mlp_hidden_dim, d, bias=cfg.qkv_bias)
        self.q_norm = qk_norm(cfg.qk_norm_type, hd)
        self.k_norm = qk_norm(cfg.qk_norm_type, hd)
        self.mlp_act = activation(cfg.mlp_act_type)

    def qkv_mlp(self, x: Tensor, shift: Tensor, scale: Tensor, rope: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The block up to its attention: rotated q, k, the values and the MLP's hidden input
        (also used on a subset of the tokens by the fast engine, engine/fast/text_stream.py)."""
        qkv, mlp_hidden = torch.split(self.linear1(modulate(self.norm(x), shift, scale)), [3 * self.feat_dim, self.mlp_hidden_dim], dim=-1)
        q, k, v = split_heads(qkv, self.num_heads)
        q = self.q_norm(q).to(v)
        k = self.k_norm(k).to(v)
        q, k = apply_rope(q, k, *rope)
        return q, k, v, mlp_hidden

    def finish(self, x: Tensor, attn: Tensor, mlp_hidden: Tensor, gate: Tensor) -> Tensor:
        return x + self.linear2(torch.cat((attn, self.mlp_act(mlp_hidden)), 2)) * gate

    def forward(self, x: Tensor, adapter: Tensor, mask: Tensor, rope: tuple[Tensor, Tensor], mods: Tensor | None = None) -> Tensor:
        shift, scale, gate = (self.modulation(adapter) if mods is None else mods).chunk(3, dim=-1)
        q, k, v, mlp_hidden = self.qkv_mlp(x, shift, scale, rope)
        return self.finish(x, attention(q, k, v, mask), mlp_hidden, gate)
