"""CUDA-graph replay of the Euler loop, per static batch shape.

The DiT is host-bound at these sizes (thousands of small kernels per call), so each
(rows, frames bucket, text bucket, steps) shape is captured once: the whole loop in a few
segments for small batches, one step replayed per step for large ones. The graphs read their
inputs from the buffers they were captured with; a new batch of the same shape is copied into
them before the first replay.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor

from motionbridge.daemon.engine.fast.sampler import Batch, StepHook, euler_step
from motionbridge.daemon.model.sampling import Projection, time_grid

CONDITIONING = ("ctxt", "vtxt", "x_mask", "ctxt_mask")  # all the prologue reads
PER_RUN = ("guided_index", "cfg", "guided_rows")  # read by the step itself


def _copy_batch(dst: Batch, src: Batch, with_x0: bool = True, conditioning: bool = True) -> None:
    names = (("x0",) if with_x0 else ()) + (CONDITIONING if conditioning else ()) + PER_RUN
    for name in names:
        getattr(dst, name).copy_(getattr(src, name))


GPU_TURNS = threading.Lock()
"""Held by a graph capture (GraphCache.get building an entry) and by a background compile job
(fast.py) for its whole run. Another thread's kernel launches, allocations and module loads
invalidate a capture even in thread-local mode (seen on an H100: the decode's capture failed
with cudaErrorStreamCaptureInvalidated while a shape compiled, and the CUDA generator was left
in capture state for every later call). A capture that finds the lock taken does not wait for
the compile (tens of seconds): its caller runs the same work without a graph."""


class PoolTenancy:
    """Which captured loop last replayed in a shared graph pool. Graphs sharing a pool reuse
    each other's freed capture memory, so a loop's tables (the prologue's outputs, kept live
    between runs) can sit where another graph's intermediates were: replaying that graph
    overwrites them. A loop may skip its prologue only when no other graph of its pool has
    replayed since its own last run. Measured on an H100 (bench/parity_gpu.py, float32):
    shape B's prompt repeated after shape A ran gave latents 4.0 off the official ones."""

    def __init__(self) -> None:
        self.last: object | None = None

    def claim(self, tenant: object) -> bool:
        """Marks `tenant` as the pool's last user; True when it already was (its buffers are intact)."""
        intact, self.last = self.last is tenant, tenant
        return intact


def capturing(graph: torch.cuda.CUDAGraph, pool=None):
    """torch.cuda.graph in thread-local capture mode: the background compile thread
    (compile/shape_compiler.py) allocates and launches work while a request's thread captures, and in
    the default global mode any such call on another thread invalidates the capture."""
    return torch.cuda.graph(graph, pool=pool, capture_error_mode="thread_local")


ROW_FORMS = (lambda t: t[0].clone(), lambda t: t[min(1, len(t) - 1)], lambda t: t[0])  # see run_step_once


def run_step_once(batch: Batch, step, make_tables: Callable[[Batch], tuple], times: int = 1) -> tuple:
    """Runs the tables' prologue once and one Euler step of `batch` `times` times, on a side
    stream on a GPU: what a captured loop needs done before capture (lazy inits, autotuning)
    and what compiles a shape's code (the background compile job, compile/shape_compiler.py).
    Returns the tables (their shapes are what a per-step capture's row buffers take)."""
    x0 = batch.x0
    zero = torch.zeros((), device=x0.device)
    side = torch.cuda.Stream(x0.device) if x0.is_cuda else None
    if side is not None:
        side.wait_stream(torch.cuda.current_stream(x0.device))
    with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
        # one prologue: it sees the batch in the same form every time (a 1.0B shape's prologue
        # fills every step's text keys and values, a few ms that a new shape's request waits on)
        tables = make_tables(batch)
        for i in range(times):
            # each form a captured loop passes its rows in: standalone rows (the per-step
            # graph's buffers), then views into the tables past offset 0 and at it (the whole
            # loop's t[k]). A dynamic-shape compile guards on views' offsets and bases, and a
            # recompile inside a capture invalidates it (seen on an H100:
            # bench/results/2026-12-07-h100-session9.md), so every form is compiled here first
            rows = tuple(None if t is None else ROW_FORMS[i % len(ROW_FORMS)](t) for t in tables)
            step(x0.clone(), zero, zero, *rows)
    if side is not None:
        torch.cuda.current_stream(x0.device).wait_stream(side)
    return tables


class CapturedStep:
    """The Euler loop of one static batch shape as CUDA graphs, with the prologue that fills its
    per-run inputs: the attention mask and the per-step tables.

    `make_step(batch, mask)` -> step(x, t0, dt, *table_rows) -> (x_next, v), closing over the
    batch's tensors, which become the static inputs. `make_mask(batch)` -> the attention mask of
    the batch (built once per run rather than inside every step). `make_tables(batch)` -> per-step
    inputs for the whole loop, each (steps, ...) or None: the modulations
    (MotionDiT.modulation_table) and the refined text (refined_text_table).

    `capture_tables` True (small tables: one clip or a few): the prologue is a graph too, and the
    whole loop is captured as `ceil(steps / segment_steps)` graphs that read each step's table
    rows and times in place. The per-step host work (a replay plus five copies, about 20 us of
    GPU gaps per step) is gone; the caller's hook runs after each segment instead of each step.
    A run whose conditioning (text features, masks) equals the previous run's skips the
    prologue: its tables are still in the buffers (about 1 ms of a 1.0B clip).
    False (big tables, large batches, where those microseconds do not matter): the prologue
    runs eagerly on each call, so GBs of tables are not kept in the graph pool between calls,
    and one step is captured and replayed per step with its table rows copied in.

    `project` (a directed take's constraints, fast/constraint_buffers.py) is captured after every step
    (sampler.euler_step); it reads buffers of its own, which the caller refills before a run."""

    def __init__(self, batch: Batch, make_step, pool, make_tables: Callable[[Batch], tuple] | None = None,
                 capture_tables: bool = True, make_mask: Callable[[Batch], Tensor] | None = None,
                 steps: int | None = None, segment_steps: int = 5, project: Projection | None = None,
                 tenancy: PoolTenancy | None = None) -> None:
        if segment_steps < 1:
            raise ValueError(f"segment_steps must be >= 1, got {segment_steps}")
        self.batch = batch
        self.tenancy = tenancy or PoolTenancy()  # shared by every graph of `pool` (GraphCache.tenancy)
        self.make_tables = make_tables or (lambda b: ())
        self.make_mask = make_mask
        self.mask = None if make_mask is None else make_mask(batch)  # static: refilled per run
        self.step = make_step(batch, self.mask)
        self.x = batch.x0.clone()
        self.t0 = torch.zeros((), device=self.x.device)
        self.dt = torch.zeros((), device=self.x.device)
        self.t1 = torch.zeros((), device=self.x.device)
        self.project = project
        warm = self.step if project is None else lambda x, t0, dt, *rows: euler_step(self.step, x, t0, dt, t0, rows, project)
        # outside capture: lazy inits, autotuning, and a dynamic compile's forms of the rows. A
        # captured loop reads its rows as views of the tables (forms 1 and 2 of ROW_FORMS); the
        # per-step graph reads standalone buffers (form 0) and needs that one run only
        tables = run_step_once(batch, warm, self.make_tables, times=len(ROW_FORMS) if capture_tables else 1)
        self.prologue: torch.cuda.CUDAGraph | None = None
        self.prologue_replays = 0
        self._last_conditioning: tuple[Tensor, ...] | None = None
        self.segments: list[tuple[int, int, torch.cuda.CUDAGraph]] = []
        self.graph: torch.cuda.CUDAGraph | None = None
        templates = tuple(None if t is None else torch.empty_like(t[0]) for t in tables) if not capture_tables else ()
        del tables  # a big batch's tables are GBs: freed before anything is captured
        if capture_tables:
            if steps is None:
                raise ValueError("a captured loop needs its step count; pass steps=")
            self.prologue = torch.cuda.CUDAGraph()
            with capturing(self.prologue, pool):
                self.tables = self._inputs(batch)
            self._capture_loop(pool, steps, segment_steps)
            return
        self.rows = templates
        self.tables = ()  # made again per call
        self.graph = torch.cuda.CUDAGraph()
        with capturing(self.graph, pool):
            self.x_next, self.v = euler_step(self.step, self.x, self.t0, self.dt, self.t1, self.rows, project)

    def _inputs(self, batch: Batch) -> tuple:
        if self.mask is not None and self.make_mask is not None:
            self.mask.copy_(self.make_mask(batch))
        return self.make_tables(batch)

    def _capture_loop(self, pool, steps: int, segment_steps: int) -> None:
        grid = time_grid(steps, self.x.device)
        # one tensor per step time: Inductor copies misaligned scalar views before reading them
        self.times = [(grid[k].clone(), (grid[k + 1] - grid[k]).clone()) for k in range(steps)]
        self.ends = [grid[k + 1].clone() for k in range(steps)]  # t1 of each step, for the projection
        self.steps = steps
        self.x_in = torch.empty_like(self.x)  # the last step's input and velocity, for the hook
        self.v = torch.empty_like(self.x)
        for start in range(0, steps, segment_steps):
            stop = min(start + segment_steps, steps)
            graph = torch.cuda.CUDAGraph()
            with capturing(graph, pool):
                x = self.x
                for k in range(start, stop):
                    x_k = x
                    rows = tuple(None if t is None else t[k] for t in self.tables)
                    x, v = euler_step(self.step, x_k, *self.times[k], self.ends[k], rows, self.project)
                self.x_in.copy_(x_k)
                self.v.copy_(v)
                self.x.copy_(x)
            self.segments.append((start, stop, graph))

    def forget_conditioning(self) -> None:
        """The next run copies its conditioning in and replays the tables' prologue, as for a
        new prompt (benchmarks of that cost; bench/tune_probe.py)."""
        self._last_conditioning = None

    def run(self, batch: Batch, steps: int, on_step: StepHook | None = None, noise: Callable[[], Tensor] | None = None) -> Tensor:
        """`noise`: draws the starting noise (on the CPU) once the prologue is queued, so that
        the device fills the tables meanwhile; without it the batch's `x0` is used."""
        if self.prologue is not None:
            if steps != self.steps:
                raise ValueError(f"this loop was captured with {self.steps} steps, not {steps}; capture one per step count")
            # the same prompts as the last run of this shape (new seeds, an animator's next
            # take): the tables in the graph's buffers are still this batch's, skip the prologue
            intact = self.tenancy.claim(self)  # no other graph of the pool replayed over the tables
            same = intact and self._last_conditioning is not None and all(
                torch.equal(a, getattr(batch, n).to(a.device)) for a, n in zip(self._last_conditioning, CONDITIONING))
            if batch is not self.batch:
                _copy_batch(self.batch, batch, with_x0=noise is None, conditioning=not same)
            if not same:
                self.prologue.replay()
                self._last_conditioning = tuple(getattr(batch, n).to("cpu", copy=True) for n in CONDITIONING)
                self.prologue_replays += 1
            self.x.copy_(self.batch.x0 if noise is None else noise())
            for _start, stop, graph in self.segments:
                graph.replay()
                if on_step is not None and on_step(stop, self.times[stop - 1][0], self.x_in, self.v):
                    break
            return self.x.clone()
        if batch is not self.batch:
            _copy_batch(self.batch, batch, with_x0=noise is None)
        tables = self._inputs(self.batch)
        for t in tables:
            if t is not None and t.shape[0] != steps:
                raise ValueError(f"this step was captured with {t.shape[0]}-step tables, not {steps}; capture one per step count")
        self.x.copy_(self.batch.x0 if noise is None else noise())
        self.tenancy.claim(self)
        step_graph = self.graph
        assert step_graph is not None  # captured whenever the tables are not
        grid = time_grid(steps, self.x.device)
        dts = grid[1:] - grid[:-1]
        for k in range(steps):
            self.t0.copy_(grid[k])
            self.dt.copy_(dts[k])
            if self.project is not None:
                self.t1.copy_(grid[k + 1])
            for row, table in zip(self.rows, tables):
                if row is not None:
                    row.copy_(table[k])
            step_graph.replay()
            if on_step is not None and on_step(k + 1, grid[k], self.x, self.v):
                return self.x_next.clone()
            self.x.copy_(self.x_next)
        return self.x.clone()


class UseCounts:
    """How often each shape was met, for captures that pay off only on a shape's later uses
    (a mixed stream meets a new shape on most requests); the least recently met shapes are
    forgotten beyond `limit`."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._uses: OrderedDict[tuple, int] = OrderedDict()

    def count(self, key: tuple) -> int:
        """Counts a use of `key`; returns its uses so far, this one included."""
        self._uses[key] = uses = self._uses.pop(key, 0) + 1
        while len(self._uses) > self.limit:
            self._uses.popitem(last=False)
        return uses


class GraphCache:
    """Captured CUDA graphs by key (a batch shape), least recently used dropped first; all share
    one memory pool (safe: replays never overlap, each output is copied out before the next
    replay, and a loop's tables kept between runs are trusted only while `tenancy` says no
    other entry replayed since). `build(pool)` captures a missing entry: the DiT's Euler step, a text forward or a
    decode. `make_pool`: where the pool comes from; the decoder's eager stand-in on the CPU
    (its tests) passes one that gives None."""

    def __init__(self, capacity: int = 16, make_pool: Callable[[], object] = torch.cuda.graph_pool_handle) -> None:
        if capacity < 1:
            raise ValueError(f"graph cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.make_pool = make_pool
        self.pool = None
        self.tenancy = PoolTenancy()  # which entry last replayed in the pool (CapturedStep skips its prologue by it)
        self.entries: OrderedDict[tuple, object] = OrderedDict()
        self.captures = 0
        self.deferred = 0  # captures put off while a compile held GPU_TURNS
        self.build_s = 0.0  # seconds spent building entries (warm-up runs and captures), all told

    def get(self, key: tuple, build: Callable[[object], object]):
        """The entry of `key`, captured now if missing; None when a background compile holds
        GPU_TURNS (the caller runs the work without a graph and captures on a later call)."""
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        if not GPU_TURNS.acquire(blocking=False):
            self.deferred += 1
            return None
        try:
            if self.pool is None:
                self.pool = self.make_pool()
            while len(self.entries) >= self.capacity:
                self.entries.popitem(last=False)
            started = time.perf_counter()
            try:
                entry = build(self.pool)
            finally:
                self.build_s += time.perf_counter() - started
        finally:
            GPU_TURNS.release()
        self.entries[key] = entry
        self.captures += 1
        return entry

    def drop(self, key: tuple) -> None:
        """Forgets one entry (its memory returns to the pool for the next capture)."""
        self.entries.pop(key, None)

    def clear(self) -> None:
        self.entries.clear()
        self.pool = None
