"""Run the double blocks' text stream on a second CUDA stream, beside the motion stream.

A double block has two independent halves (motion rows with the motion weights, text rows
with the text weights) that meet only in the joint attention. At one clip the text half is
~32 rows: a dozen small, latency-bound kernels per block (about 15 % of a 1.0B step on the
H200) that leave most of the chip idle. Issued on a side stream they overlap with the motion
half; a CUDA graph captured around the step keeps the fork and join as graph edges.

Same operations in the same order per half, so the result equals the one-stream block (to
the rounding of how Inductor fuses each piece when compiled). On the CPU, or outside CUDA,
the halves simply run one after the other.

Cross-stream memory: a tensor made on one stream and read on the other is marked with
`record_stream`, so the caching allocator does not hand its memory out again before the
reader is done (during graph capture it defers such frees to the end of the capture).
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Callable

import torch
from torch import Tensor, nn

from motionbridge.daemon.model.blocks import DoubleStreamBlock

OVERLAP_MAX_ROWS = 1024  # motion rows (batch x frames) up to which the halves overlap: a few clips


class _Pieces:
    """The three compiled (or plain) functions shared by every double block of a model."""

    def __init__(self, compile_fn: Callable | None) -> None:
        wrap = compile_fn or (lambda f: f)
        self.qkv = wrap(DoubleStreamBlock._qkv)  # (block, norm, qkv, q_norm, k_norm, feat, shift, scale)
        self.attend = wrap(DoubleStreamBlock._joint_attention)
        self.finish = wrap(DoubleStreamBlock._finish)


def _mark(stream: torch.cuda.Stream | None, *tensors: Tensor) -> None:
    if stream is not None:
        for t in tensors:
            t.record_stream(stream)


def _two_stream_forward(self: DoubleStreamBlock, motion: Tensor, text: Tensor, adapter: Tensor, mask: Tensor,
                        rope: tuple[Tensor, Tensor], mods: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    p: _Pieces = self._pieces
    m_out, t_out = mods if mods is not None else (self.motion_mod(adapter), self.text_mod(adapter))
    m_mods, t_mods = m_out.chunk(6, dim=-1), t_out.chunk(6, dim=-1)
    # large batches fill the chip on one stream; splitting them only keeps more memory alive
    # across streams (the cross-stream frees are deferred while a graph is captured)
    overlap = motion.is_cuda and motion.shape[0] * motion.shape[1] <= OVERLAP_MAX_ROWS
    main = torch.cuda.current_stream(motion.device) if overlap else None
    side = _side_stream(self, motion.device) if overlap else None
    if side is not None:
        side.wait_stream(main)
        _mark(side, text, t_out)
    with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
        tq, tk, tv = p.qkv(self, self.text_norm1, self.text_qkv, self.text_q_norm, self.text_k_norm, text, t_mods[0], t_mods[1])
    mq, mk, mv = p.qkv(self, self.motion_norm1, self.motion_qkv, self.motion_q_norm, self.motion_k_norm, motion, m_mods[0], m_mods[1])
    if side is not None:
        main.wait_stream(side)
        _mark(main, tq, tk, tv)
    attn = p.attend(mq, mk, mv, tq, tk, tv, *rope, mask)
    split = motion.shape[1]
    if side is not None:
        side.wait_stream(main)
        _mark(side, attn)
    with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
        text = p.finish(self.text_out_proj, self.text_norm2, self.text_mlp, text, attn[:, split:], t_mods)
    motion = p.finish(self.motion_out_proj, self.motion_norm2, self.motion_mlp, motion, attn[:, :split], m_mods)
    if side is not None:
        main.wait_stream(side)
        _mark(main, text)
    return motion, text


def _side_stream(block: DoubleStreamBlock, device: torch.device) -> torch.cuda.Stream:
    """The block's side stream for the calling thread: the background compile (compile/shape_compiler.py)
    runs blocks on its own thread while requests capture them on theirs, and a stream shared by
    both would join one thread's work to the other's graph."""
    streams = block._side_streams
    side = getattr(streams, "stream", None)
    if side is None:
        side = streams.stream = torch.cuda.Stream(device)
    return side


def overlap_text_stream(dit: nn.Module, device: torch.device | str, compile_fn: Callable | None = None) -> int:
    """Patch every double block of `dit` to run its text half on one shared side stream (on a
    CUDA `device`; elsewhere the halves run in turn). `compile_fn` (e.g. a configured
    torch.compile) wraps the three pieces, which replaces compiling the double blocks whole.
    Returns how many blocks were patched."""
    device = torch.device(device)
    pieces = _Pieces(compile_fn)
    streams = threading.local()  # one side stream per thread, shared by the blocks
    count = 0
    for block in dit.double_blocks:
        block._pieces = pieces
        block._side_streams = streams
        block.forward = types.MethodType(_two_stream_forward, block)
        block.two_streams = True
        count += 1
    return count
