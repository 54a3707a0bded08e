"""A compile job's compile child (compile/child_job.py, compile/child.py) on the CPU, with real
child processes and compile functions that stand in for Inductor (child_compilers.py): the
child compiles the shape it was given before the parent compiles it in-process and marks it
READY; a child that fails or hangs (killed at the timeout) leaves the shape FAILED with one
line while requests keep being served; closing the engine kills a running child."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.compile.child import CHILD_NICENESS
from motionbridge.daemon.engine.compile.shape_compiler import FAILED, READY

from .child_compilers import RECORD_ENV, read_record
from .test_paths import generate

HERE = Path(__file__).resolve().parent


@pytest.fixture()
def record(tmp_path, monkeypatch):
    """The compile functions' record file; this folder importable here and in the child, whose
    PYTHONPATH leaves out this checkout's import root: the parent must add it."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    path = tmp_path / "record.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(path))
    return path


def engine(compiler: str, wait_ms: int = 0, timeout_s: float = 300.0, **fast):
    return tiny_random_engine("cpu", 3, compile_with=f"child_compilers:{compiler}", buckets=True, compile_blocks=True,
                              background_compile=True, compile_wait_ms=wait_ms, compile_in_child=True,
                              compile_child_timeout_s=timeout_s, **fast)


def gone(pid: int) -> bool:
    """No such process, or a zombie (nothing left running; its reaper may be slow)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def wait_for_hang(record, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while not read_record(record) and time.monotonic() < deadline:
        time.sleep(0.2)
    [hung] = read_record(record)
    return hung


def test_the_child_compiles_the_shape_then_the_parent_compiles_it_and_marks_it_ready(record):
    e = engine("recording")
    generate(e, 0, duration=2.0)  # served uncompiled while the child compiles
    assert e.compiler.wait_idle(300)
    [key] = list(e.compiler._states)
    assert e.compiler.state(key) == READY, e.compiler.error(key)
    [child] = e._child.pids
    lines = read_record(record)
    in_child = [tuple(map(tuple, r["shapes"])) for r in lines if r["pid"] == child]
    in_parent = [tuple(map(tuple, r["shapes"])) for r in lines if r["pid"] == os.getpid()]
    assert in_child and in_parent, lines
    assert {r["pid"] for r in lines} == {child, os.getpid()}
    assert set(in_child) == set(in_parent), "the child compiled another shape than the parent's job"
    assert [r["pid"] for r in lines].index(os.getpid()) > max(i for i, r in enumerate(lines) if r["pid"] == child)
    assert not any(r["zmq"] for r in lines if r["pid"] == child)
    # the child yields the cores to the serving process (compile/child.py CHILD_NICENESS)
    assert {r["nice"] for r in lines if r["pid"] == child} == {min(19, os.nice(0) + CHILD_NICENESS)}
    assert gone(child)
    assert [ev["event"] for ev in e.compile_events] == ["compile_start", "compile_child_done", "compile_done"]
    done = e.compile_events[1]
    assert done["child_pid"] == child and done["shape"] == {"frames": key[1], "text_tokens": key[2], "rows": key[0]}
    assert 0 < done["seconds"] <= e.compile_events[2]["seconds"]


def test_a_failing_child_fails_the_shape_with_its_one_line_error_and_requests_are_served(record):
    e = engine("failing", wait_ms=300_000)  # the request waits for the compile, which fails
    stages: list = []
    takes = generate(e, 0, stages=stages)
    assert len(takes) == 1 and np.isfinite(takes[0].latent).all()
    assert stages and all(s[0] == "compile_failed" for s in stages)
    [key] = list(e.compiler._states)
    error = e.compiler.error(key)
    assert e.compiler.state(key) == FAILED and len(e._child.pids) == 1
    assert error == "CompileChildFailed: compile child exited 1: RuntimeError: inductor: lowering failed (injected)"
    assert len(generate(e, 1)) == 1 and len(e._child.pids) == 1  # served again; not compiled again


def test_a_hanging_child_is_killed_at_the_timeout(record):
    e = engine("hanging", timeout_s=15)
    t0 = time.monotonic()
    assert e.precompile(2.0, 4, 1) == FAILED
    took = time.monotonic() - t0
    [key] = list(e.compiler._states)
    assert e.compiler.error(key) == "CompileChildFailed: compile child timed out after 15 s and was killed"
    assert 15 <= took < 60
    [child] = e._child.pids
    assert gone(child)


def test_closing_the_engine_kills_a_running_child(record):
    e = engine("hanging")
    generate(e, 0)  # served uncompiled; its shape's child hangs
    hung = wait_for_hang(record)
    [child] = e._child.pids
    assert hung["pid"] == child and not gone(child)
    e.close()
    assert gone(child)
    assert e.compiler.wait_idle(30)
    [key] = list(e.compiler._states)
    assert e.compiler.state(key) == FAILED and "engine closed" in e.compiler.error(key)


SERVING_PARENT = """
import time
from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.api import GenerationRequest
e = tiny_random_engine("cpu", 3, compile_with="child_compilers:hanging", buckets=True, compile_blocks=True,
                       background_compile=True, compile_in_child=True)
e.generate([GenerationRequest("A person walks.", 2.0, (0,), 5.0, request_id="r")])
time.sleep(600)
"""


def test_a_child_dies_with_its_parent(record):
    import_root = HERE.parents[3] / ".pkgroot"  # tests/conftest.py's: this checkout as motionbridge
    parent = subprocess.Popen([sys.executable, "-c", SERVING_PARENT], env={**os.environ, "PYTHONPATH": f"{import_root}{os.pathsep}{HERE}"})
    hung: dict = {}
    try:
        hung = wait_for_hang(record)
        assert not gone(hung["pid"])
        parent.kill()  # as the OOM killer would: no close, no cleanup
        parent.wait(30)
        deadline = time.monotonic() + 10
        while not gone(hung["pid"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(hung["pid"]), "the compile child outlived its parent"
    finally:
        parent.kill()
        if hung and not gone(hung["pid"]):  # leave no process behind when the test fails
            os.kill(hung["pid"], 9)


def test_a_compile_function_object_cannot_go_to_a_child():
    with pytest.raises(ValueError, match="module:function"):
        tiny_random_engine("cpu", 3, compile_with=lambda f: f, buckets=True, compile_blocks=True, compile_in_child=True,
                           background_compile=True)
    # without a background compile there are no jobs for a child: a function object is fine
    assert tiny_random_engine("cpu", 3, compile_with=lambda f: f, buckets=True, compile_blocks=True, compile_in_child=True)._child is None


def test_the_child_is_the_gpu_default_and_its_timeout_must_be_positive():
    from motionbridge.daemon.engine.fast.config import FastConfig

    assert FastConfig.for_device("cuda").compile_in_child and FastConfig.for_device("cuda:1", "bfloat16").compile_in_child
    assert not FastConfig.for_device("cuda", "float32").compile_blocks  # nothing to compile in float32 (config.py)
    assert not FastConfig.for_device("cpu").compile_in_child
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="compile_child_timeout_s must be > 0"):
            FastConfig(compile_child_timeout_s=bad)


def test_the_warm_ups_compile_without_a_child(record):
    """Before READY and in `motionbridge warm` nothing is served meanwhile: no child to pay for."""
    from motionbridge.daemon.engine.compile.warm import warm_shapes

    e = engine("recording")
    e.warm_up("A person walks.", durations=(2.0,))
    assert warm_shapes(e, [(4.0, 4, 1)], io.StringIO())["failed"] == []
    assert e.compiler.summary()["ready"] == 2 and e._child.pids == []
    assert {r["pid"] for r in read_record(record)} == {os.getpid()}


def test_a_dynamic_compile_runs_a_child_per_code_variant_only(record):
    """With compile_dynamic a shape's code serves every shape of its variant (one row or more):
    a later shape's job runs that code in-process (no recompile:
    tests/daemon/engine/fast/test_dynamic_compile.py) without paying for a child process."""
    e = tiny_random_engine("cpu", 3, compile_with="child_compilers:recording", buckets=True, compile_blocks=True, background_compile=True,
                           compile_in_child=True, compile_dynamic=True)
    assert e.precompile(2.0, 4, 1) == READY and len(e._child.pids) == 1
    assert e.precompile(5.0, 20, 1) == READY and len(e._child.pids) == 1  # other frames and text buckets
    assert e.precompile(3.0, 4, 2) == READY and len(e._child.pids) == 2  # two rows: another variant
    assert e.precompile(4.0, 30, 3) == READY and len(e._child.pids) == 2
    assert len(e.compiler._states) == 4 and len(e.compiled_variants) == 2


def test_a_restart_loads_the_warm_ups_cached_code_before_ready_without_a_child(record):
    """The daemon's warm-up (compile_first False) queues an uncached shape's compile in a child
    and serves meanwhile; once compiled, the shape is marked in the compile cache with its
    in-process seconds, and the next engine's warm-up (a restart) loads it in-process before
    returning (READY), with no child, when that fits `ready_load_s`."""
    first = engine("recording")
    first.warm_up("A person walks.", durations=(2.0,), compile_first=False)
    assert first.compiler.wait_idle(240) and len(first._child.pids) == 1
    first.close()
    marks = record.parent / "inductor" / "motionbridge-compiled"
    assert len(list(marks.iterdir())) == 1
    again = engine("recording")
    during: list = []
    make_job = again._compile_job

    def watched(*args, **kwargs):
        job = make_job(*args, **kwargs)
        return lambda: during.append(list(marks.iterdir())) or job()

    again._compile_job = watched
    again.warm_up("A person walks.", durations=(2.0,), compile_first=False)
    assert again.compiler.summary()["ready"] == 1 and again.compiler.summary()["queued"] == 0
    assert again._child.pids == []
    # no marker while it loads (a start killed or hung there must not repeat the load before READY), again after
    assert during == [[]] and len(list(marks.iterdir())) == 1
    again.close()
    # code that loads slower than the budget before READY (a dynamic variant: 75 s on an H100)
    # goes to the background as if it were not cached
    slow = engine("recording", ready_load_s=0.0)
    slow.warm_up("A person walks.", durations=(2.0,), compile_first=False)
    assert slow.compiler.wait_idle(240) and len(slow._child.pids) == 1
    slow.close()
