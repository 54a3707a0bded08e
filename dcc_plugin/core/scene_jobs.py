"""Detect and Export: the panel's CPU-heavy scene actions, kept off the UI thread.

Each runs in three steps:
1. main thread: a quick snapshot of the scene data it needs (the rig's rest skeleton, the
   takes' keys as Clips), because only the DCC's main thread may touch its scene;
2. a worker thread: the heavy part, on that snapshot only (rig detection; formatting and
   writing the file through the writer the adapter passes in, which writes atomically:
   core does not import the exporters);
3. main thread: the outcome, through `host.run_on_main_thread`.

The worker is a JobManager of its own, not the client's: a long export must not hold up the
polls (live previews, cancel) of a generation running at the same time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from motionbridge.rigs import Clip, Skeleton

from . import targeting
from .errors import cause_of, message_of
from .host import Host
from .jobs import JobManager

# write(path, clips, names) -> a path, or an object with `.path` (and `.warnings`)
TakeWriter = Callable[[str, Sequence[Clip], Sequence[str]], Any]


@dataclass(frozen=True)
class SceneOutcome:
    """How a detect or export ended, delivered on the main thread."""

    message: str  # the status line for the user, or the error
    error: bool = False
    target: targeting.Target | None = None  # detect: the rig ready to drive
    path: str = ""  # export: the file written
    warnings: tuple[str, ...] = ()  # export: what the writer had to change (renamed joints...)
    cause: str = ""  # an error's cause (errors.cause_of: "mapping" for a rig that cannot be mapped)
    rig: str = ""  # the rig an error is about


class SceneJobs:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.jobs = JobManager(host.run_on_main_thread, name="motionbridge-scene-jobs")
        self.pending = 0  # detections and exports queued or running (main-thread count)
        # per action: "<action>_snapshot_ms" (main thread) and "<action>_work_ms" (worker)
        self.timings: dict[str, list[float]] = {}
        self.worker_threads: list[str] = []  # the thread each job's heavy part ran on

    def detect(self, rig: str, skeleton: Skeleton, preset: str, mapping: Any, on_outcome: Callable[[SceneOutcome], None]) -> None:
        """Detect the rig (or bind `preset` / `mapping`) on the worker; `skeleton` is the
        main thread's snapshot of the rig."""

        def work() -> SceneOutcome:
            target = targeting.resolve_target(rig, skeleton, preset, mapping)
            return SceneOutcome(f"Target {target.describe()}.", target=target)

        self._run("detect", work, on_outcome)

    def export(self, take_names: Sequence[str], path: str | os.PathLike[str], write: TakeWriter,
               on_outcome: Callable[[SceneOutcome], None]) -> None:
        """Read the takes' keys now (main thread; raises KeyError/ValueError/HostError for a
        take that is gone), then write them to `path` on the worker."""
        t0 = time.perf_counter()
        names = list(take_names)
        clips = [self.host.read_take(name) for name in names]
        self._record("export_snapshot_ms", t0)
        target = os.fspath(path)

        def work() -> SceneOutcome:
            result = write(target, clips, names)
            written = os.fspath(getattr(result, "path", result) or target)
            warnings = tuple(str(w) for w in (getattr(result, "warnings", None) or ()))
            note = f" ({'; '.join(warnings)})" if warnings else ""
            return SceneOutcome(f"Exported {len(names)} take(s) to {written}{note}.", path=written, warnings=warnings)

        self._run("export", work, on_outcome)

    def _run(self, action: str, work: Callable[[], SceneOutcome], on_outcome: Callable[[SceneOutcome], None]) -> None:
        def on_worker() -> SceneOutcome:
            self.worker_threads.append(threading.current_thread().name)
            t0 = time.perf_counter()
            try:
                return work()
            finally:
                self._record(f"{action}_work_ms", t0)

        def done(outcome: SceneOutcome) -> None:
            self.pending -= 1
            on_outcome(outcome)

        def failed(exc: BaseException) -> None:
            self.pending -= 1
            on_outcome(SceneOutcome(message_of(exc), error=True, cause=cause_of(exc), rig=str(getattr(exc, "rig", ""))))

        self.pending += 1
        self.jobs.submit(on_worker, done, failed)

    def _record(self, key: str, t0: float) -> None:
        self.timings.setdefault(key, []).append((time.perf_counter() - t0) * 1000.0)

    def close(self, timeout_s: float = 3.0) -> None:
        """Finish what is queued (an export under way completes or leaves no file), then stop."""
        self.jobs.shutdown(timeout_s)
