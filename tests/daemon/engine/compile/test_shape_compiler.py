"""ShapeCompiler (engine/compile/shape_compiler.py): one job at a time on its own thread, urgent jobs
first, failures kept per shape and logged, and one real torch.compile of a small function
done in the background while the caller keeps computing."""

from __future__ import annotations

import threading
import time

import torch

from motionbridge.daemon.engine.compile.shape_compiler import COMPILING, FAILED, NEW, QUEUED, READY, ShapeCompiler


def test_jobs_run_in_order_with_urgent_ones_first_and_failures_are_kept():
    gate = threading.Event()
    ran: list[str] = []
    events: list[dict] = []
    c = ShapeCompiler(on_event=events.append)
    c.submit("hold", lambda: (ran.append("hold"), gate.wait(10)))
    while c.state("hold") != COMPILING:
        time.sleep(0.01)
    c.submit("a", lambda: ran.append("a"))
    c.submit("b", lambda: ran.append("b"))
    c.submit("boom", lambda: 1 / 0, urgent=True)
    assert c.submit("a", lambda: ran.append("again")) == QUEUED  # already queued: not twice
    assert c.submit("a", lambda: None, urgent=True) == QUEUED  # ... but moved to the front
    assert c.summary() == {"ready": 0, "failed": 0, "queued": 3, "compiling": "'hold'"}
    assert c.wait_ready("a", 0.05) == QUEUED  # a short wait gives up
    gate.set()
    assert c.wait_idle(10)
    assert ran == ["hold", "a", "b"]
    started = [e["shape"] for e in events if e["event"] == "compile_start"]
    assert started == ["'hold'", "'a'", "'boom'", "'b'"]  # urgent ones first, 'a' moved up last
    assert [c.state(k) for k in ("hold", "a", "b", "boom", "never")] == [READY, READY, READY, FAILED, NEW]
    assert "ZeroDivisionError" in c.error("boom")
    assert c.submit("boom", lambda: ran.append("retry")) == FAILED and c.wait_idle(5) and "retry" not in ran
    assert [e["event"] for e in events].count("compile_failed") == 1
    assert c.summary()["ready"] == 3 and c.summary()["failed"] == 1


def test_a_broken_event_sink_does_not_stop_compiling():
    c = ShapeCompiler(on_event=lambda e: 1 / 0)
    c.submit("a", lambda: None)
    assert c.wait_ready("a", 10) == READY


def test_close_drops_queued_jobs_and_the_thread_ends():
    gate = threading.Event()
    c = ShapeCompiler()
    c.submit("hold", lambda: gate.wait(10))
    while c.state("hold") != COMPILING:
        time.sleep(0.01)
    c.submit("later", lambda: None)
    c.close()
    gate.set()
    c._thread.join(10)
    assert not c._thread.is_alive()
    assert c.state("later") == NEW and c.state("hold") == READY
    assert c.submit("new", lambda: None) == NEW  # closed: nothing more is queued


def test_a_real_torch_compile_in_the_background_while_this_thread_computes_eagerly():
    def f(x):
        return torch.sin(x) * 2 + x.square().mean()

    compiled = torch.compile(f, dynamic=False)
    x = torch.linspace(-1, 1, 64)
    c = ShapeCompiler()
    c.submit((64,), lambda: compiled(x))
    eager = []
    while c.state((64,)) in (QUEUED, COMPILING):  # the caller is not held while Inductor works
        eager.append(f(x))
        time.sleep(0.05)
    assert c.state((64,)) == READY, c.error((64,))
    assert len(eager) > 3
    torch.testing.assert_close(compiled(x), eager[0])
