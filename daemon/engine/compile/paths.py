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

import copy
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from torch import nn

from motionbridge.daemon.engine.compile.graphs import GraphCache
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


def choose(compiler: ShapeCompiler | None, key: Hashable, make_job: Callable[[], Callable[[], None]], wait_s: float = 0.0) -> Choice:
    """Compiled when `key` is compiled; otherwise queue its compile (first in line: a request
    waits for it), wait up to `wait_s` for it (a shape whose code is already compiled for
    another shape of a dynamic compile, or warm in the disk cache, is ready in well under a
    second), and take the uncompiled path if it is not ready by then."""
    if compiler is None:
        return Choice(COMPILED)
    state = compiler.state(key)
    if state == NEW:
        state = compiler.submit(key, make_job(), urgent=True)
    if state in (QUEUED, COMPILING) and wait_s > 0:
        state = compiler.wait_ready(key, wait_s)
    if state == READY:
        return Choice(COMPILED)
    queued = int(compiler.summary()["queued"])  # type: ignore[call-overload]
    return Choice(UNCOMPILED, "compile_failed" if state == FAILED else "compiling", max(0, queued - (state == QUEUED)))
