"""CUDA-graph replay of one Euler step, per static batch shape.

The DiT is host-bound at these sizes (thousands of small kernels per call), so each
(rows, frames bucket, text bucket) shape is captured once and replayed for every step. The
captured step reads its inputs from the buffers it was captured with; a new batch of the same
shape is copied into them before the first replay.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import torch
from torch import Tensor

from motionbridge.daemon.model.sampling import time_grid

from .sampler import Batch, StepHook


def _copy_batch(dst: Batch, src: Batch) -> None:
    for name in ("x0", "ctxt", "vtxt", "x_mask", "ctxt_mask", "guided_index", "cfg", "guided_rows"):
        getattr(dst, name).copy_(getattr(src, name))


class CapturedStep:
    """One Euler step, and the prologue that fills its per-step tables, as CUDA graphs.

    `make_tables(batch)` -> per-step inputs for the whole loop, each (steps, ...) or None: the
    modulations (MotionDiT.modulation_table) and the refined text (refined_text_table). Both
    read only the batch's static buffers, so they are captured too (eagerly they are a few
    milliseconds of launching small kernels before the first step). The step reads step k's
    rows from static buffers that `run` refills before each replay. `capture_tables` False:
    the prologue runs eagerly on each call instead, so big tables (large batches, where a few
    ms of launching do not matter) are not kept in the graph pool between calls."""

    def __init__(self, batch: Batch, make_step, pool, make_tables: Callable[[Batch], tuple] | None = None,
                 capture_tables: bool = True) -> None:
        self.batch = batch
        self.step = make_step(batch)  # closes over batch's tensors, which become the static inputs
        self.make_tables = make_tables or (lambda b: ())
        self.x = batch.x0.clone()
        self.t0 = torch.zeros((), device=self.x.device)
        self.dt = torch.zeros((), device=self.x.device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside capture (lazy inits, autotuning)
            for _ in range(2):
                rows = tuple(None if t is None else t[0].clone() for t in self.make_tables(batch))
                self.step(self.x.clone(), self.t0, self.dt, *rows)
        torch.cuda.current_stream().wait_stream(side)
        self.prologue: torch.cuda.CUDAGraph | None = None
        if capture_tables:
            self.prologue = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.prologue, pool=pool):
                self.tables = self.make_tables(batch)
        else:
            self.tables = self.make_tables(batch)
        self.rows = tuple(None if t is None else torch.empty_like(t[0]) for t in self.tables)
        if not capture_tables:
            self.tables = ()  # made again per call; do not hold this batch's copy
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, pool=pool):
            self.x_next, self.v = self.step(self.x, self.t0, self.dt, *self.rows)

    def run(self, batch: Batch, steps: int, on_step: StepHook | None = None) -> Tensor:
        if batch is not self.batch:
            _copy_batch(self.batch, batch)
        if self.prologue is not None:
            self.prologue.replay()
            tables = self.tables
        else:
            tables = self.make_tables(self.batch)
        for t in tables:
            if t is not None and t.shape[0] != steps:
                raise ValueError(f"this step was captured with {t.shape[0]}-step tables, not {steps}; capture one per step count")
        self.x.copy_(self.batch.x0)
        grid = time_grid(steps, self.x.device)
        dts = grid[1:] - grid[:-1]
        for k in range(steps):
            self.t0.copy_(grid[k])
            self.dt.copy_(dts[k])
            for row, table in zip(self.rows, tables):
                if row is not None:
                    row.copy_(table[k])
            self.graph.replay()
            if on_step is not None and on_step(k + 1, grid[k], self.x, self.v):
                return self.x_next.clone()
            self.x.copy_(self.x_next)
        return self.x.clone()


class GraphCache:
    """Captured CUDA graphs by key (a batch shape), least recently used dropped first; all share
    one memory pool (safe: replays never overlap and each output is copied out before the next
    replay). `build(pool)` captures a missing entry: the DiT's Euler step, a text forward or a
    decode. `make_pool`: where the pool comes from; the decoder's eager stand-in on the CPU
    (its tests) passes one that gives None."""

    def __init__(self, capacity: int = 16, make_pool: Callable[[], object] = torch.cuda.graph_pool_handle) -> None:
        if capacity < 1:
            raise ValueError(f"graph cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.make_pool = make_pool
        self.pool = None
        self.entries: OrderedDict[tuple, object] = OrderedDict()
        self.captures = 0

    def get(self, key: tuple, build: Callable[[object], object]):
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        if self.pool is None:
            self.pool = self.make_pool()
        while len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
        entry = build(self.pool)
        self.entries[key] = entry
        self.captures += 1
        return entry

    def clear(self) -> None:
        self.entries.clear()
        self.pool = None
