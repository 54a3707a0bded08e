"""Packing several requests into one sampling batch, exactly.

Each seed of each request is one *row*. Guided rows (cfg > 1) also get an unconditional twin.
The latent is trimmed to the longest take in the batch and the text to the longest prompt;
trimmed positions were masked keys anyway, and text tokens keep their RoPE positions from
`train_frames` on, so the valid outputs match the full-size reference to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from motionbridge.daemon.model.sampling import length_mask


@dataclass
class RowSpec:
    request_index: int
    request_id: str
    seed: int
    frames: int
    cfg: float
    vtxt: Tensor  # (1, Dv) conditional pooled text (game offset already added)
    ctxt: Tensor  # (Lt, Dc) LLM rows
    ctxt_length: int


@dataclass
class PackedBatch:
    rows: list[RowSpec]
    x_len: int  # trimmed latent length: the longest take
    text_len: int  # trimmed text length: the longest prompt
    ctxt: Tensor  # (N, text_len, Dc): unconditional rows first, then one per row
    vtxt: Tensor  # (N, 1, Dv)
    x_mask: Tensor  # (N, x_len) bool
    ctxt_mask: Tensor  # (N, text_len) bool
    uncond_of: Tensor  # (G,) index into rows of each unconditional network row
    guided: Tensor  # (R,) bool
    cfg: Tensor  # (R, 1, 1) float32

    @property
    def num_network_rows(self) -> int:
        return self.ctxt.shape[0]

    def network_input(self, x: Tensor) -> Tensor:
        """(R, x_len, D) state -> (N, x_len, D): the guided rows' twins first."""
        return torch.cat((x[self.uncond_of], x), 0) if len(self.uncond_of) else x

    def combine(self, out: Tensor) -> Tensor:
        """Network output (N, ...) -> guided velocity per row (R, ...), v = u + cfg (c - u)."""
        g = len(self.uncond_of)
        cond = out[g:]
        if not g:
            return cond
        v = cond.clone()
        uncond = out[:g]
        v[self.uncond_of] = uncond + self.cfg[self.uncond_of] * (cond[self.uncond_of] - uncond)
        return v


def pack(rows: list[RowSpec], null_vtxt: Tensor, null_ctxt: Tensor, ctxt_null_feat: bool, device: torch.device) -> PackedBatch:
    x_len = max(r.frames for r in rows)
    text_len = max(1, max(r.ctxt_length for r in rows))
    vtxt = torch.stack([r.vtxt for r in rows]).to(device)  # (R, 1, Dv)
    ctxt = torch.stack([r.ctxt[:text_len] for r in rows]).to(device)
    ctxt_lengths = torch.tensor([r.ctxt_length for r in rows], device=device)
    frames = torch.tensor([r.frames for r in rows], device=device)
    ctxt_mask = length_mask(ctxt_lengths, text_len)
    x_mask = length_mask(frames, x_len)
    guided = torch.tensor([r.cfg > 1.0 for r in rows], device=device)
    uncond_of = torch.nonzero(guided).flatten()
    if len(uncond_of):
        g = len(uncond_of)
        silent_ctxt = null_ctxt.expand(g, text_len, -1) if ctxt_null_feat else ctxt[uncond_of]
        ctxt = torch.cat((silent_ctxt.to(ctxt.dtype), ctxt), 0)
        vtxt = torch.cat((null_vtxt.expand(g, 1, -1).to(vtxt.dtype), vtxt), 0)
        ctxt_mask = torch.cat((ctxt_mask[uncond_of], ctxt_mask), 0)
        x_mask = torch.cat((x_mask[uncond_of], x_mask), 0)
    cfg = torch.tensor([r.cfg for r in rows], dtype=torch.float32, device=device).view(-1, 1, 1)
    return PackedBatch(rows, x_len, text_len, ctxt, vtxt, x_mask, ctxt_mask, uncond_of, guided, cfg)
