"""ShapeCompiler: compiles batch shapes in the background while requests run on a path that is
ready now.

Compiling a new static shape with Inductor costs 20-30 s on an H100 (about 3 s when its
kernels are in the disk cache), and a request must never wait for it. The engine asks
`state(key)` for each batch shape; a shape that is not ready is queued here (`submit`) and the
request runs at once on the slower path that needs no compiling (the uncompiled network under
CUDA graphs). Once the job has run, the shape is `READY` and the next request of that shape
takes the compiled path. A job that raises (an Inductor error, a device OOM) leaves the shape
`FAILED`: it is logged once, never raised to a request, and the shape keeps the slower path.

The job runs the compiled functions once on the shape (Dynamo and Inductor do their work
then); it never captures CUDA graphs: two threads capturing at once corrupt the allocator's
and the CUDA generator's capture state (seen on torch 2.11), so capture stays on the
request thread. Jobs run one at a time, in the order they were asked for, except that
`submit(..., urgent=True)` (a request is waiting on this shape) goes to the front.

A thread alone does not keep requests flowing: on one H100 (1.0B, `bench --scenario
daemon-mixed`) a request that met an uncompiled shape while another compiled finished only
when that compile did (20-30 s), because Inductor's and Triton's code generation holds the GIL
in native code, which the switch interval cannot pre-empt (our reading). So the fast engine's
job (fast/engine.py `_compile_job`, with `FastConfig.compile_in_child`, the GPU default) first
compiles its shape in a child process (compile/child_job.py), which fills the disk caches, and
only then compiles in-process on this thread, which then mostly loads code (2.7 s instead of
27.7 s for one shape on that H100). That design is not yet measured on a GPU. `close` leaves a
running job alone; the engine's close kills its compile child, which fails that job.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable

log = logging.getLogger("motionbridge.compile")

NEW, QUEUED, COMPILING, READY, FAILED = "new", "queued", "compiling", "ready", "failed"


class ShapeCompiler:
    """`switch_interval`: while a job runs, the interpreter hands the GIL over this often
    (seconds), so that the request thread, which needs it only between graph replays, is
    not held for the default 5 ms at each handover by the Python-heavy compiler; None leaves
    it alone. `on_event(dict)`: each job's start, end and failure (the JSON log)."""

    def __init__(self, switch_interval: float | None = 0.0005, on_event: Callable[[dict], None] | None = None) -> None:
        self._states: dict[Hashable, str] = {}
        self._errors: dict[Hashable, str] = {}
        self._jobs: dict[Hashable, Callable[[], None]] = {}
        self._queue: collections.deque[Hashable] = collections.deque()
        self._cond = threading.Condition()
        self._current: Hashable | None = None
        self._closed = False
        self._switch_interval = switch_interval
        self.on_event = on_event
        self.seconds: dict[Hashable, float] = {}
        self._thread = threading.Thread(target=self._loop, name="motionbridge-compile", daemon=True)
        self._thread.start()

    # -- what the request thread asks --------------------------------------------------------

    def state(self, key: Hashable) -> str:
        with self._cond:
            return self._states.get(key, NEW)

    def submit(self, key: Hashable, job: Callable[[], None], urgent: bool = False) -> str:
        """Queue `job` for `key` unless it is queued, running, done or failed; returns the
        state after the call. `urgent` moves a queued key to the front."""
        with self._cond:
            state = self._states.get(key, NEW)
            if state == NEW and not self._closed:
                self._states[key] = QUEUED
                self._jobs[key] = job
                (self._queue.appendleft if urgent else self._queue.append)(key)
                self._cond.notify_all()
                return QUEUED
            if state == QUEUED and urgent:
                self._queue.remove(key)
                self._queue.appendleft(key)
            return state

    def mark_ready(self, key: Hashable) -> str:
        """Marks a NEW `key` READY without a job (its code exists: a dynamic compile's variant
        compiled for another shape); returns its state after the call."""
        with self._cond:
            if self._states.get(key, NEW) == NEW:
                self._states[key] = READY
                self._cond.notify_all()
            return self._states[key]

    def wait_ready(self, key: Hashable, timeout: float | None) -> str:
        """Waits up to `timeout` s (None: for good) for `key` to leave the queue; returns its
        state then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._states.get(key, NEW) in (QUEUED, COMPILING):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left)
            return self._states.get(key, NEW)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Waits until no job is queued or running; False if `timeout` s passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._current is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def summary(self) -> dict[str, object]:
        """Counts by state, the key compiling now and how many wait behind it (STATUS, logs)."""
        with self._cond:
            counts = collections.Counter(self._states.values())
            return {"ready": counts[READY], "failed": counts[FAILED], "queued": len(self._queue),
                    "compiling": None if self._current is None else repr(self._current)}

    def error(self, key: Hashable) -> str:
        with self._cond:
            return self._errors.get(key, "")

    def close(self) -> None:
        """Drops queued jobs; the one running finishes (Inductor cannot be interrupted in-process;
        a compile child can: FastEngine.close)."""
        with self._cond:
            self._closed = True
            for key in self._queue:
                self._states[key] = NEW
            self._queue.clear()
            self._cond.notify_all()

    # -- the compile thread ------------------------------------------------------------------

    def _emit(self, event: dict) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a broken log sink must not stop compiling
                log.exception("compile event sink failed")

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                key = self._queue.popleft()
                job = self._jobs.pop(key)
                self._states[key] = COMPILING
                self._current = key
                waiting = len(self._queue)
            self._emit({"event": "compile_start", "shape": repr(key), "queued": waiting})
            old_interval = sys.getswitchinterval()
            if self._switch_interval is not None:
                sys.setswitchinterval(self._switch_interval)
            t0 = time.perf_counter()
            error = ""
            try:
                job()
            except BaseException as exc:  # any failure leaves the slower path serving
                error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            finally:
                sys.setswitchinterval(old_interval)
            seconds = time.perf_counter() - t0
            with self._cond:
                self._states[key] = FAILED if error else READY
                if error:
                    self._errors[key] = error
                self.seconds[key] = seconds
                self._current = None
                self._cond.notify_all()
            if error:
                log.warning("compiling shape %r failed after %.1f s; it keeps the uncompiled path: %s", key, seconds, error)
                self._emit({"event": "compile_failed", "shape": repr(key), "seconds": round(seconds, 3), "error": error})
            else:
                self._emit({"event": "compile_done", "shape": repr(key), "seconds": round(seconds, 3)})
