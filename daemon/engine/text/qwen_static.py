"""Static-shape Qwen3 forward over the user part of the prompt, after the cached chat prefix.

`FastTextEncoder` computes the keys/values of the chat-template prefix (system prompt up to
the user text, `crop_start` tokens) once. This module runs the remaining tokens through the
decoder layers of the already loaded HF `Qwen3Model`, reading its weights, with shapes fixed
per (rows, user-token bucket):

- the user tokens are right-padded to a bucket; a boolean key mask lets query i see every
  prefix key and the user keys j <= i that are valid (padded keys are blocked, so valid rows
  never depend on the padding; padded query rows always see the prefix, so they stay finite);
- RoPE cos/sin for positions `prefix_len .. prefix_len + bucket - 1` come from the model's own
  rotary module and are made outside the forward (`tables`);
- the forward has no `.item()`, no host syncs and no Python branch on tensor values, so the
  same code runs eagerly on the CPU and inside a CUDA graph (text/graphs.py).

The arithmetic follows transformers' Qwen3 (sdpa attention) op for op: RMSNorm in float32
cast back before the weight, q/k norms on the head dim before RoPE, GQA by repeating the
key/value heads, the final norm on the output (`last_hidden_state`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# user rows (user text plus the template's closing tokens) are at most max_length (128)
USER_BUCKETS = (16, 32, 64, 128)


def bucket_up(n: int, buckets: Sequence[int]) -> int:
    """Smallest bucket >= n; n itself when it is beyond the largest."""
    for b in buckets:
        if n <= b:
            return b
    return n


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    dtype = x.dtype
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(dtype)


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + _rotate_half(x) * sin


def _linear(x: Tensor, layer: nn.Module) -> Tensor:
    """nn.Linear, or low-VRAM mode's quantised one (text/quantized.py), which dequantises."""
    return layer(x)


@dataclass(frozen=True)
class RopeTables:
    """Everything of one user bucket that depends only on its position range."""

    start: int  # position of the first user token (= prefix length)
    length: int  # the bucket
    cos: Tensor  # (1, 1, length, head_dim), model dtype
    sin: Tensor
    causal: Tensor  # (length, length) bool, lower triangle


class StaticQwen:
    """Forward of `llm` (a transformers Qwen3Model) for user tokens after a cached prefix."""

    def __init__(self, llm: nn.Module) -> None:
        cfg = llm.config
        types = getattr(cfg, "layer_types", None) or ["full_attention"]
        if any(t != "full_attention" for t in types):
            raise ValueError("static Qwen forward supports full attention only (sliding-window layers found)")
        self.llm = llm
        attn = llm.layers[0].self_attn
        self.num_heads = int(cfg.num_attention_heads)
        self.num_kv_heads = int(cfg.num_key_value_heads)
        self.head_dim = int(attn.head_dim)
        self.groups = self.num_heads // self.num_kv_heads
        self.scaling = float(attn.scaling)
        self.eps = float(cfg.rms_norm_eps)
        self.act = llm.layers[0].mlp.act_fn

    @property
    def dtype(self) -> torch.dtype:
        return self.llm.norm.weight.dtype  # not the token table's: it may be quantised

    @property
    def device(self) -> torch.device:
        return self.llm.norm.weight.device

    @torch.no_grad()
    def tables(self, start: int, length: int) -> RopeTables:
        """RoPE and the causal pattern for user positions start .. start + length - 1."""
        device = self.device
        pos = torch.arange(start, start + length, device=device)[None]
        # the model's own rotary module: same inv_freq, scaling and float32 math as HF
        cos, sin = self.llm.rotary_emb(torch.empty(0, dtype=self.dtype, device=device), pos)
        causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
        return RopeTables(start, length, cos[:, None], sin[:, None], causal)

    @staticmethod
    def key_mask(key_valid: Tensor, prefix_len: int, causal: Tensor) -> Tensor:
        """(B, 1, L, P + L) bool: every prefix key, and user keys that are causal and valid."""
        b, n = key_valid.shape
        user = causal[None, None] & key_valid[:, None, None, :]
        prefix = torch.ones(b, 1, n, prefix_len, dtype=torch.bool, device=key_valid.device)
        return torch.cat((prefix, user), dim=-1)

    def forward(self, ids: Tensor, key_valid: Tensor, prefix_kv: Sequence[tuple[Tensor, Tensor]], tables: RopeTables) -> Tensor:
        """ids (B, L) long, key_valid (B, L) bool (right-padded user tokens), prefix_kv per layer
        (1 or B, kv_heads, P, head_dim) after RoPE, as HF caches them -> (B, L, hidden), the
        final-norm output. Shapes only: safe to capture."""
        b, n = ids.shape
        if n != tables.length:
            raise ValueError(f"ids have {n} user tokens, the tables {tables.length}")
        mask = self.key_mask(key_valid, prefix_kv[0][0].shape[2], tables.causal)
        cos, sin = tables.cos, tables.sin
        h = self.llm.embed_tokens(ids)
        for layer, (pk, pv) in zip(self.llm.layers, prefix_kv):
            attn = layer.self_attn
            x = rms_norm(h, layer.input_layernorm.weight, self.eps)
            q = rms_norm(_linear(x, attn.q_proj).view(b, n, self.num_heads, self.head_dim), attn.q_norm.weight, self.eps)
            k = rms_norm(_linear(x, attn.k_proj).view(b, n, self.num_kv_heads, self.head_dim), attn.k_norm.weight, self.eps)
            v = _linear(x, attn.v_proj).view(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
            q = _rope(q.transpose(1, 2), cos, sin)
            k = _rope(k.transpose(1, 2), cos, sin)
            k = torch.cat((pk.expand(b, -1, -1, -1), k), dim=2)
            v = torch.cat((pv.expand(b, -1, -1, -1), v), dim=2)
            if self.groups > 1:
                s = k.shape[2]
                k = k[:, :, None].expand(b, self.num_kv_heads, self.groups, s, self.head_dim).reshape(b, self.num_heads, s, self.head_dim)
                v = v[:, :, None].expand(b, self.num_kv_heads, self.groups, s, self.head_dim).reshape(b, self.num_heads, s, self.head_dim)
            a = F.scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous(), attn_mask=mask, scale=self.scaling)
            h = h + _linear(a.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim), attn.o_proj)
            x = rms_norm(h, layer.post_attention_layernorm.weight, self.eps)
            mlp = layer.mlp
            h = h + _linear(self.act(_linear(x, mlp.gate_proj)) * _linear(x, mlp.up_proj), mlp.down_proj)
        return rms_norm(h, self.llm.norm.weight, self.eps)

    __call__ = forward
