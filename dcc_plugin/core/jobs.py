"""Runs client calls off the UI thread and hands their results back to the main thread.

ZeroMQ sockets are not thread-safe, so one worker thread owns the client and runs every
call on it, in order. The main thread only enqueues work and receives callbacks through the
host's `run_on_main_thread`; it never waits on the network, so a dead or restarting daemon
cannot freeze the DCC.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MainThreadRunner = Callable[[Callable[[], None]], None]
_STOP = object()


class JobManager:
    def __init__(self, run_on_main_thread: MainThreadRunner, name: str = "motionbridge-client") -> None:
        self._post = run_on_main_thread
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `fn()` on the worker; deliver its result or exception on the main thread."""
        if self._closed:
            raise RuntimeError("the job manager is shut down; reopen the panel")
        self._queue.put((fn, on_done, on_error))

    def repeat(
        self,
        step: Callable[[], bool],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `step()` on the worker again and again until it returns True (finished).
        Other submitted jobs interleave between steps, so a cancel is never stuck behind a poll."""

        def run_once() -> None:
            if step():
                return
            if not self._closed:
                self._queue.put((run_once, None, on_error))

        self.submit(run_once, None, on_error)

    def post(self, fn: Callable[[], None]) -> None:
        """Deliver `fn` to the main thread (usable from inside a job)."""
        self._post(fn)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, on_done, on_error = item
            try:
                result = fn()
            except BaseException as exc:  # delivered to the UI, never lost in a thread
                if on_error is None:
                    log.exception("background job failed")
                else:
                    self._post(functools.partial(on_error, exc))
                continue
            if on_done is not None:
                self._post(functools.partial(on_done, result))

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Run what is already queued (a client's close, say), then stop; polling loops
        stop re-queuing themselves. Waits at most `timeout_s` for the worker."""
        self._closed = True
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
