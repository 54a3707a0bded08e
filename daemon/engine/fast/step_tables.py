"""The per-step inputs a batch's loop reads from tables made before it, and which of them fit.

Three tables, each (steps, ...), made in one pass over all the step times:
- the modulations of every block (MotionDiT.modulation_table);
- the refined text tokens (MotionDiT.refined_text_table), while they fit `precompute_text_mib`;
- in the text-table mode, every block's text keys and values (text_stream.text_kv_table), made
  from the other two while they fit `text_kv_mib`; the loop then runs the motion tokens alone
  (text_stream.MotionNetwork) and the refined text is not kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from motionbridge.daemon.engine.fast import text_stream
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.model.mmdit import MotionDiT
from motionbridge.daemon.model.sampling import time_grid

MIB = 2**20


@dataclass(frozen=True)
class TablePlan:
    """What one batch shape gets: `text_kv` the text-table mode; `refined_text` the refined-text
    table (kept, or made for the text-table mode); `bytes` what its tables hold."""

    text_kv: bool
    bytes: int
    refined_text: bool = False


class StepTables:
    def __init__(self, dit: MotionDiT, fast: FastConfig, dtype: torch.dtype, device: torch.device,
                 autocast: Callable[[], contextlib.AbstractContextManager], compile_fn: Callable | None = None) -> None:
        self.dit = dit
        self.text_stream = text_stream.TextStream(dit, compile_fn)
        self.fast = fast
        self.dtype = dtype
        self.device = device
        self.autocast = autocast
        self.modulation_width = sum(lin.out_features for lin in dit._modulation_linears())  # per row and step
        self._ropes: dict[tuple[int, int], tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]] = {}

    def _text_bytes(self, rows: int, text_len: int, steps: int) -> int:
        return steps * rows * text_len * self.dit.cfg.feat_dim * self.dtype.itemsize

    def _mods_bytes(self, rows: int, steps: int) -> int:
        return steps * rows * self.modulation_width * self.dtype.itemsize if self._mods_on else 0

    @property
    def _mods_on(self) -> bool:
        return self.fast.fused_modulation and self.fast.precompute_modulation

    def plan(self, batch, steps: int) -> TablePlan:
        rows, text_len = batch.ctxt.shape[:2]
        text = self._text_bytes(rows, text_len, steps)
        text_on = text <= self.fast.precompute_text_mib * MIB
        kv = text_stream.table_bytes(self.dit, steps, rows, text_len, self.dtype)
        # the motion-only loop reads every block's modulation from the table
        if self._mods_on and text_on and kv <= self.fast.text_kv_mib * MIB:
            return TablePlan(True, self._mods_bytes(rows, steps) + kv, refined_text=True)
        return TablePlan(False, self._mods_bytes(rows, steps) + (text if text_on else 0), refined_text=text_on)

    def _split_rope(self, joint: tuple[Tensor, Tensor], motion_len: int) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """(motion rows, text rows) of the joint RoPE tables, copied once per shape."""
        key = (motion_len, joint[0].shape[0])
        if key not in self._ropes:
            self._ropes[key] = text_stream.split_rope(joint, motion_len)
        return self._ropes[key]

    def rope(self, joint: tuple[Tensor, Tensor], motion_len: int, plan: TablePlan) -> tuple[Tensor, Tensor]:
        """The RoPE rows the loop's network reads: the motion rows alone in the text-table mode."""
        return self._split_rope(joint, motion_len)[0] if plan.text_kv else joint

    def mask(self, batch, plan: TablePlan) -> Tensor:
        """The loop's attention mask, built once per run in the network's dtype (MotionDiT.mask;
        the blocks read it as is): its motion query rows in the text-table mode."""
        mask = self.dit.mask(batch.x_mask, batch.ctxt_mask).to(self.dtype)
        return text_stream.motion_query_mask(mask, batch.x_mask.shape[1]) if plan.text_kv else mask

    def make(self, batch, steps: int, plan: TablePlan, joint_rope: tuple[Tensor, Tensor]) -> tuple[Tensor | None, Tensor | None]:
        """(modulations, text) for every step, one row per step; None for a table that is off.
        `text` is the refined text, or the text keys and values in the text-table mode."""
        grid = time_grid(steps, self.device)[:-1]
        mods = text = None
        with self.autocast():
            if self._mods_on:
                mods = self.dit.modulation_table(grid, batch.vtxt)
            if plan.refined_text:
                text = self.dit.refined_text_table(grid, batch.ctxt, batch.ctxt_mask)
            if plan.text_kv:
                lm = batch.x_mask.shape[1]
                joint_mask = self.dit.mask(batch.x_mask, batch.ctxt_mask).to(self.dtype)
                assert mods is not None and text is not None  # plan() asks for both
                text = self.text_stream(mods, text, self._split_rope(joint_rope, lm)[1], joint_mask[:, :, lm:, lm:].contiguous())
        return mods, text
