"""Every block's text keys and values for every solver step, before the loop; the loop then
carries the motion tokens alone.

Why this is exact: in the joint attention a text query never sees a motion key (MotionDiT.mask
blocks text -> motion in every mask mode), and the text stream's other inputs, its modulation
and the refined prompt, depend on the step time and the prompt only. So the text tokens'
path through all blocks is known before sampling, like the modulation and refined-text tables
(MotionDiT.modulation_table / refined_text_table). One pass of steps x rows through the text
half of the network (matmuls of thousands of rows that read each weight once) replaces
50 per-step passes of ~32 text rows (latency-bound kernels that re-read the text weights at
every step). What the loop needs from it is, per block, the text keys (normed and rotated)
and values that the motion queries attend to.

The motion path is the same arithmetic as the joint blocks restricted to the motion query
rows: the motion keys and values are joined with the table's text ones in the same order
(motion first), under the motion rows of the same additive mask. A masked motion key never
contributed to a text query (exp(-inf) is exactly 0), so the only differences are in how the
kernels block their sums (float rounding); the parity tests hold both paths to the official
latents.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from motionbridge.daemon.model.blocks import DoubleStreamBlock, SingleStreamBlock
from motionbridge.daemon.model.layers import apply_rope, attention
from motionbridge.daemon.model.mmdit import MotionDiT


def table_bytes(dit: MotionDiT, steps: int, rows: int, text_len: int, dtype: torch.dtype) -> int:
    """Bytes of `text_kv_table` for this many steps, network rows and text tokens."""
    blocks = len(dit.double_blocks) + len(dit.single_blocks)
    return steps * blocks * 2 * rows * text_len * dit.cfg.feat_dim * dtype.itemsize


def split_rope(rope: tuple[Tensor, Tensor], motion_len: int) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Joint (cos, sin) rows -> the motion rows and the text rows, each contiguous."""
    cos, sin = rope
    return (cos[:motion_len].contiguous(), sin[:motion_len].contiguous()), (cos[motion_len:].contiguous(), sin[motion_len:].contiguous())


def motion_query_mask(mask: Tensor, motion_len: int) -> Tensor:
    """The joint (B, 1, T, T) mask's motion query rows: (B, 1, Lm, T)."""
    return mask[:, :, :motion_len].contiguous()


def text_double_block(block: DoubleStreamBlock, x: Tensor, t_out: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A double block's text half on its own: (text out, keys, values)."""
    t_mods = t_out.chunk(6, dim=-1)
    q, k, v = DoubleStreamBlock._qkv(block, block.text_norm1, block.text_qkv, block.text_q_norm, block.text_k_norm, x, t_mods[0], t_mods[1])
    q, k = apply_rope(q, k, cos, sin)
    x = DoubleStreamBlock._finish(block.text_out_proj, block.text_norm2, block.text_mlp, x, attention(q, k, v, mask), t_mods)
    return x, k, v


def text_single_block(single: SingleStreamBlock, x: Tensor, mods: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A single block on the text tokens alone: (text out, keys, values)."""
    shift, scale, gate = mods.chunk(3, dim=-1)
    q, k, v, mlp_hidden = single.qkv_mlp(x, shift, scale, (cos, sin))
    return single.finish(x, attention(q, k, v, mask), mlp_hidden, gate), k, v


class TextStream:
    """Makes `text_kv_table`. `compile_fn` wraps the two per-block functions (each compiled
    once per table shape and shared by the blocks of its kind): uncompiled, the pass is
    hundreds of separate elementwise kernels over thousands of rows."""

    def __init__(self, dit: MotionDiT, compile_fn: Callable | None = None) -> None:
        wrap = compile_fn or (lambda f: f)
        self.dit = dit
        self.double = wrap(text_double_block)
        self.single = wrap(text_single_block)

    def __call__(self, mods: Tensor, text: Tensor, text_rope: tuple[Tensor, Tensor], text_mask: Tensor) -> Tensor:
        """(S, n_blocks, 2, B, Lt, H, Dh): for step s and block i, the text keys (after the
        q/k norm and RoPE) and values the motion queries attend to. `mods`:
        MotionDiT.modulation_table (S, B, 1, total); `text`: refined_text_table (S, B, Lt, D);
        `text_rope`: the text rows of the joint RoPE tables; `text_mask`: the joint mask's text
        rows and columns (B, 1, Lt, Lt). All steps are one batch of S*B rows."""
        dit = self.dit
        steps, rows, text_len = text.shape[:3]
        flat_mods = dit.split_modulations(mods.reshape(steps * rows, 1, -1))
        x = text.reshape(steps * rows, text_len, -1)
        mask = text_mask.repeat(steps, 1, 1, 1)  # row s*B + b, like the tables
        n_double, n_blocks = len(dit.double_blocks), len(dit.double_blocks) + len(dit.single_blocks)
        table: Tensor | None = None

        def put(index: int, k: Tensor, v: Tensor) -> Tensor:
            # written in place, block by block: stacking the pairs would hold the table 3 times
            out = k.new_empty((steps, n_blocks, 2, rows, *k.shape[1:])) if table is None else table
            out[:, index, 0] = k.reshape(steps, rows, *k.shape[1:])
            out[:, index, 1] = v.reshape(steps, rows, *v.shape[1:])
            return out

        for i, block in enumerate(dit.double_blocks):
            x, k, v = self.double(block, x, flat_mods[2 * i + 1], *text_rope, mask)
            table = put(i, k, v)
        for j, single in enumerate(dit.single_blocks):
            # the last block's text output feeds nothing, but one compiled shape serves all
            x, k, v = self.single(single, x, flat_mods[2 * n_double + j], *text_rope, mask)
            table = put(n_double + j, k, v)
        assert table is not None, "a DiT without blocks"
        return table


def text_kv_table(dit: MotionDiT, mods: Tensor, text: Tensor, text_rope: tuple[Tensor, Tensor], text_mask: Tensor) -> Tensor:
    """TextStream(dit)(...) with the blocks' own, uncompiled code."""
    return TextStream(dit)(mods, text, text_rope, text_mask)


def _join(motion: Tensor, text: Tensor) -> Tensor:
    return torch.cat((motion, text), 1)


def motion_double_block(block: DoubleStreamBlock, motion: Tensor, m_out: Tensor, text_k: Tensor, text_v: Tensor,
                        cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
    """A double block's motion half against the table's text keys and values."""
    m_mods = m_out.chunk(6, dim=-1)
    q, k, v = block._qkv(block.motion_norm1, block.motion_qkv, block.motion_q_norm, block.motion_k_norm, motion, m_mods[0], m_mods[1])
    q, k = apply_rope(q, k, cos, sin)
    attn = attention(q, _join(k, text_k), _join(v, text_v), mask)
    return block._finish(block.motion_out_proj, block.motion_norm2, block.motion_mlp, motion, attn, m_mods)


def motion_single_stack(dit: MotionDiT, x: Tensor, single_mods: list[Tensor], final_mods: Tensor, kv: Tensor,
                        cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
    """The single blocks and the final layer on the motion tokens; `kv` holds the single
    blocks' rows of one step of the table. One function, so that it compiles as one graph."""
    for j, single in enumerate(dit.single_blocks):
        assert isinstance(single, SingleStreamBlock)
        shift, scale, gate = single_mods[j].chunk(3, dim=-1)
        q, k, v, mlp_hidden = single.qkv_mlp(x, shift, scale, (cos, sin))
        x = single.finish(x, attention(q, _join(k, kv[j, 0]), _join(v, kv[j, 1]), mask), mlp_hidden, gate)
    return dit.final_layer(x, None, final_mods)


class MotionNetwork:
    """The loop's network in this mode: (x, mods, kv row, motion RoPE rows, motion query mask)
    -> the velocity. `compile_fn` wraps the double block's motion half (shared by every double
    block) and the single stack (one graph, like compile scope 'stack')."""

    def __init__(self, dit: MotionDiT, compile_fn: Callable | None = None) -> None:
        wrap = compile_fn or (lambda f: f)
        self.dit = dit
        self.double = wrap(motion_double_block)
        self.singles = wrap(motion_single_stack)

    def __call__(self, x: Tensor, mods: list[Tensor], kv: Tensor, rope: tuple[Tensor, Tensor], mask: Tensor) -> Tensor:
        dit = self.dit
        motion = dit.input_encoder(x)
        n_double = len(dit.double_blocks)
        for i, block in enumerate(dit.double_blocks):
            motion = self.double(block, motion, mods[2 * i], kv[i, 0], kv[i, 1], *rope, mask)
        return self.singles(dit, motion, mods[2 * n_double : -1], mods[-1], kv[n_double:], *rope, mask)
