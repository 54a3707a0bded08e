"""The fast engine's two ways through the DiT: compiled (the fast one, once a shape's code is
compiled) and uncompiled (ready at once), and which one a batch shape takes.

The uncompiled path is a copy of the network modules that shares every weight and buffer with
the compiled one (no second copy of the weights on the device), with its own step tables,
motion network and CUDA graphs. Measured on one H100 (1.0B, 5 s clip, bf16;
bench/compile_probe.py): a shape met for the first time costs 1.6-1.9 s uncompiled (graph
capture included) and 250 ms on each repeat, against 27.7 s compiled from cold caches (2.7 s
with Inductor's disk caches warm) and 99 ms per repeat once compiled. A shape compiles in the
background (compile/shape_compiler.py: a child process fills the disk caches, then the compile
thread loads the code in-process) while its requests take the uncompiled path.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import torch
from torch import nn

from motionbridge.daemon.engine.compile.cache import cached_code_seconds, forget_code_cached, mark_code_cached
from motionbridge.daemon.engine.compile.graphs import GPU_TURNS, ROW_FORMS, GraphCache, run_step_once
from motionbridge.daemon.engine.compile.shape_compiler import COMPILING, FAILED, NEW, QUEUED, READY, ShapeCompiler
from motionbridge.daemon.engine.fast.step_tables import StepTables
from motionbridge.daemon.engine.fast.text_stream import MotionNetwork

COMPILED, UNCOMPILED = "compiled", "uncompiled"


@dataclass
class NetworkPath:
    name: str  # COMPILED or UNCOMPILED
    dit: nn.Module
    tables: StepTables
    motion_network: MotionNetwork
    compile_glue: Callable | None  # compiles the step's glue (sampler.make_step), or None
    graphs: GraphCache = field(default_factory=GraphCache)


def sharing_copy(module: nn.Module) -> nn.Module:
    """A deep copy of `module` whose parameters and buffers are the original tensors."""
    memo = {id(t): t for t in itertools.chain(module.parameters(), module.buffers())}
    return copy.deepcopy(module, memo)


@dataclass(frozen=True)
class Choice:
    """The path a batch shape runs on now and what a progress event says about it: `stage`
    '' on the compiled path, 'compiling' while the shape compiles in the background (the
    slower path meanwhile), 'compile_failed' when it could not be compiled (the slower path
    for good); `queued`: shapes waiting to compile besides this one."""

    path: str
    stage: str = ""
    queued: int = 0


def choose(compiler: ShapeCompiler | None, key: Hashable, make_job: Callable[[], Callable[[], None]], wait_s: float = 0.0,
           code_exists: Callable[[], bool] = lambda: False) -> Choice:
    """Compiled when `key` is compiled, or when its code exists already (`code_exists()`, asked
    of a new key only: a dynamic compile's variant compiled for another shape; the request runs
    that code with no job to wait for); otherwise queue its compile (first in line: a request waits for it),
    wait up to `wait_s` for it (a shape warm in the disk cache is ready in a few seconds), and
    take the uncompiled path if it is not ready by then."""
    if compiler is None:
        return Choice(COMPILED)
    state = compiler.state(key)
    if state == NEW and code_exists():
        state = compiler.mark_ready(key)
    if state == NEW:
        state = compiler.submit(key, make_job(), urgent=True)
    if state in (QUEUED, COMPILING) and wait_s > 0:
        state = compiler.wait_ready(key, wait_s)
    if state == READY:
        return Choice(COMPILED)
    queued = int(compiler.summary()["queued"])  # type: ignore[call-overload]
    return Choice(UNCOMPILED, "compile_failed" if state == FAILED else "compiling", max(0, queued - (state == QUEUED)))


def choose_for(engine, batch, steps: int, key: Hashable) -> Choice:
    """`choose` for a FastEngine's batch: its compile job, its wait, whether its code exists."""
    return choose(engine.compiler, key, lambda: engine._compile_job(batch, steps), engine.fast.compile_wait_ms / 1000,
                  lambda: variant_compiled(engine, batch, steps))


# FastConfig fields that say when and where code is compiled or how it is served, not what it is
SERVING_POLICY = frozenset({"text_cache_size", "text_cache_dir", "text_batch", "max_rows", "background_compile", "compile_wait_ms",
                            "compile_in_child", "compile_child_timeout_s", "ready_load_s", "loop_capture_on_use", "graph_segment_steps"})


def code_identity(engine, batch, steps: int) -> dict:
    """What the compiled code of `batch`'s shape depends on: torch, the device, the network's
    and the fast config's settings, and the shape (a dynamic compile: its code variant). The
    key of its marker in the compile cache (compile/cache.py)."""
    device = engine.device
    on = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    key = _variant(engine, batch, steps) if engine.fast.compile_dynamic else engine._shape_key(batch)
    fast = {k: v for k, v in dataclasses.asdict(engine.fast).items() if k not in SERVING_POLICY}
    return {"torch": torch.__version__, "device": on, "network": dataclasses.asdict(engine.config.network),
            "fast": fast, "input_pad": engine._input_pad, "shape": list(key)}


def load_cached_first(engine, batch, steps: int, budget: list[float]) -> bool:
    """Whether the cached code of `batch`'s shape loads within `budget` ([seconds left], by its
    marker: compile/cache.py); if so, its seconds are taken off and its marker dropped while it
    loads (forget_code_cached)."""
    identity = code_identity(engine, batch, steps)
    load_s = cached_code_seconds(identity)
    if load_s is None or load_s > budget[0]:
        return False
    budget[0] -= load_s
    forget_code_cached(identity)
    return True


def variant_compiled(engine, batch, steps: int) -> bool:
    """A dynamic compile whose code variant for `batch` is compiled (for another shape)."""
    return bool(engine.fast.compile_dynamic) and _variant(engine, batch, steps) in engine.compiled_variants


def _variant(engine, batch, steps: int) -> tuple:
    """What a dynamic compile's code is specialised on (one row or more; the text-table loop or
    the joint one): a shape of a variant compiled before only runs that code (no recompile:
    tests/daemon/engine/fast/test_dynamic_compile.py)."""
    return (batch.x0.shape[0] == 1, bool(engine.tables.plan(batch, steps).text_kv))


def compile_job(engine, batch, steps: int, in_child: bool = True) -> Callable[[], None]:
    """The background job that compiles `batch`'s shape on a FastEngine's compiled path: its
    prologue and one step in each form a capture passes its rows (graphs.run_step_once), run
    on the compile thread (graphs are captured later, on the thread of the request that takes
    the compiled path), after the engine's compile child, if any, has put the shape's code in
    the disk caches."""
    on_device, child = batch.to(engine.device), engine._child if in_child else None
    # a shape of a dynamic code variant compiled before needs no child (_variant)
    variant = _variant(engine, batch, steps) if engine.fast.compile_dynamic else None

    def job() -> None:
        known = variant in engine.compiled_variants
        if child is not None and not known:
            child.run(engine.config, engine.fast, str(engine.device), batch)  # its own process and CUDA context
        on_gpu = torch.cuda.device(engine.device) if engine.device.type == "cuda" else contextlib.nullcontext()
        t0 = time.perf_counter()  # the in-process part: what loading the cached code costs later
        with torch.no_grad(), on_gpu:
            _, make_mask, make_tables, step_for = engine._parts(engine.paths[COMPILED], on_device, steps)
            with GPU_TURNS:  # no capture may run while this thread launches and loads kernels
                # a known variant's rows were compiled in every form: one run checks this shape
                # (a request waits on it), and a capture's own warm-up runs the forms it reads
                run_step_once(on_device, step_for(on_device, make_mask(on_device)), make_tables, 1 if known else len(ROW_FORMS))
        seconds = time.perf_counter() - t0
        if variant is not None:
            engine.compiled_variants.add(variant)
        if not known:
            mark_code_cached(code_identity(engine, batch, steps), seconds)  # a later start may load it before READY (FastEngine.precompile)
    return job
