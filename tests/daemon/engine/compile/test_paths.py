"""The fast engine's background compile (compile/paths.py, compile/shape_compiler.py) on the CPU, with
an injected compile function standing in for Inductor (a real compile of the tiny engine takes
a minute per shape on these cores): a shape not compiled yet is served at once on the
uncompiled path, the compiled path takes over once its compile has run, a compile that fails
is logged and the shape keeps the uncompiled path, and a request can be cancelled while a
compile runs."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.api import Cancelled, GenerationRequest
from motionbridge.daemon.engine.compile.shape_compiler import FAILED, READY


class FakeInductor:
    """compile_with: the 'compiled' function is the function itself, with every call recorded
    by thread; `gate` holds calls on the compile thread (a long compile), `fail` raises there."""

    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.gate, self.fail = gate, fail
        self.threads: list[str] = []

    def __call__(self, fn):
        def compiled(*args, **kwargs):
            name = threading.current_thread().name
            self.threads.append(name)
            if name == "motionbridge-compile":
                if self.fail:
                    raise RuntimeError("inductor: lowering failed (injected)")
                if self.gate is not None:
                    assert self.gate.wait(30), "the test never opened the gate"
            return fn(*args, **kwargs)
        return compiled


def engine(inductor: FakeInductor, wait_ms: int = 0):
    return tiny_random_engine("cpu", 3, compile_with=inductor, buckets=True, compile_blocks=True,
                              background_compile=True, compile_wait_ms=wait_ms)


def generate(e, seed=0, duration=2.0, stages=None, **kw):
    on_step = (lambda info: stages.append((info.stage, info.queued))) if stages is not None else None
    return e.generate([GenerationRequest("A person walks.", duration, (seed,), 5.0, request_id=f"r{seed}")], on_step=on_step, **kw)


def test_a_shape_still_compiling_is_served_uncompiled_then_the_compiled_path_takes_over():
    gate = threading.Event()
    inductor = FakeInductor(gate)
    e = engine(inductor)
    stages: list = []
    first = generate(e, 0, stages=stages)  # its compile is held at the gate meanwhile
    assert first and stages and all(s == ("compiling", 0) for s in stages)
    assert "MainThread" not in inductor.threads, "the request ran compiled code before its shape was compiled"
    assert "motionbridge-compile" in inductor.threads
    assert e.compiler.summary()["compiling"] is not None
    gate.set()
    assert e.compiler.wait_idle(30)
    stages.clear()
    second = generate(e, 0, stages=stages)
    assert stages and all(s == ("", 0) for s in stages)
    assert "MainThread" in inductor.threads, "the compiled path did not take over"
    # both paths are the same arithmetic here (the stand-in compiles nothing): the same take
    np.testing.assert_array_equal(first[0].latent, second[0].latent)
    assert [ev["event"] for ev in e.compile_events] == ["compile_start", "compile_done"]


def test_only_the_new_shape_waits_for_its_compile():
    gate = threading.Event()
    inductor = FakeInductor(gate)
    e = engine(inductor)
    gate.set()
    generate(e, 0, duration=2.0)
    assert e.compiler.wait_idle(30)
    gate.clear()  # the next compile is held
    stages: list = []
    generate(e, 1, duration=2.0, stages=stages)  # compiled shape: compiled path
    assert stages[-1] == ("", 0)
    stages.clear()
    generate(e, 2, duration=5.0, stages=stages)  # a longer bucket: uncompiled while it compiles
    assert stages[-1][0] == "compiling"
    gate.set()
    assert e.compiler.wait_idle(30)


def test_a_failing_compile_is_logged_and_the_shape_keeps_the_uncompiled_path(caplog):
    inductor = FakeInductor(fail=True)
    e = engine(inductor, wait_ms=10_000)  # waits for the compile, which fails at once
    stages: list = []
    with caplog.at_level(logging.WARNING, logger="motionbridge.compile"):
        takes = generate(e, 0, stages=stages)
    assert len(takes) == 1 and np.isfinite(takes[0].latent).all()
    assert stages and all(s[0] == "compile_failed" for s in stages)
    [key] = [k for k in e.compiler._states]
    assert e.compiler.state(key) == FAILED and "lowering failed" in e.compiler.error(key)
    assert any("failed" in r.getMessage() and "uncompiled path" in r.getMessage() for r in caplog.records)
    assert e.compile_events[-1]["event"] == "compile_failed" and "lowering failed" in e.compile_events[-1]["error"]
    generate(e, 1)  # and the shape is not compiled again
    assert e.compiler.state(key) == FAILED and len([ev for ev in e.compile_events if ev["event"] == "compile_start"]) == 1
    assert "MainThread" not in inductor.threads


def test_a_quick_compile_within_the_wait_serves_the_first_request_compiled():
    inductor = FakeInductor()
    e = engine(inductor, wait_ms=20_000)
    stages: list = []
    generate(e, 0, stages=stages)
    assert stages and all(s == ("", 0) for s in stages)
    assert "MainThread" in inductor.threads and e.compiler.state(next(iter(e.compiler._states))) == READY


def test_a_request_is_cancelled_while_its_shape_compiles():
    gate = threading.Event()
    e = engine(FakeInductor(gate))
    try:
        with pytest.raises(Cancelled):
            generate(e, 0, is_cancelled=lambda rid: True)
        assert e.compiler.summary()["compiling"] is not None  # still held: the cancel did not wait for it
    finally:
        gate.set()
    assert e.compiler.wait_idle(30)


def test_the_uncompiled_path_shares_the_weights():
    e = engine(FakeInductor())
    compiled, uncompiled = e.paths["compiled"].dit, e.paths["uncompiled"].dit
    assert compiled is not uncompiled
    ours = dict(compiled.named_parameters())
    for name, p in uncompiled.named_parameters():
        assert p is ours[name], name
    assert all(b._compiled_call_impl is None for b in uncompiled.double_blocks)
    assert all(b._compiled_call_impl is not None for b in compiled.double_blocks)


def test_without_background_compile_there_is_one_path():
    e = tiny_random_engine("cpu", 3, compile_with=FakeInductor(), buckets=True, compile_blocks=True)
    assert list(e.paths) == ["compiled"] and e.compiler is None
    stages: list = []
    generate(e, 0, stages=stages)
    assert stages and all(s == ("", 0) for s in stages)
