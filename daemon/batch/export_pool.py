"""Exports overlap generation: retarget, write and preview in worker processes while the
engine makes the next window.

Per 5 s take the CPU side costs ~100-150 ms (FBX with fsync alone 58-84 ms) where a GPU makes
a take in ~50 ms, so done in line the GPU idles most of the time. `ExportPool` hands each
generated take to a process pool (`export_take`, the same code as in line, so the same bytes)
and records the entries in this process's manifest shard in submission order, each after its
files are on disk. At most `max_pending` takes are in flight: `submit` blocks on the oldest
when the queue is full, so memory stays bounded and the back-pressure reaches the generator.

Workers are spawned (never forked: the engine's process holds CUDA and torch threads) and
import only the exporters and rigs, no torch.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from . import retarget
from .generation import Generated
from .writer import OutputOptions, TakeWriter, export_take

Recorded = Callable[[Generated, dict[str, Any]], None]


class ExportBroken(RuntimeError):
    """An export worker died (OOM killer, a signal): the run stops; --resume redoes the rest."""


def default_workers(device: str, through_daemon: bool = False) -> int:
    """One process per core but one (the generator's), at most 8 (8 cover ~60 takes/s of export
    at ~130 ms a take, above what one GPU generates); 0 for an engine on the CPU, which already
    keeps the cores busy (measured: a worker there only slowed the run down)."""
    if not (through_daemon or device.startswith("cuda")):
        return 0
    return max(0, min(8, (os.cpu_count() or 1) - 1))


class InlineExporter:
    """Exports in this process, one take after another (`--export-workers 0`, Ray actors)."""

    def __init__(self, writer: TakeWriter, recorded: Recorded):
        self.writer = writer
        self.recorded = recorded

    def submit(self, gen: Generated) -> None:
        self.recorded(gen, self.writer.finish(gen))

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


class ExportPool:
    def __init__(self, writer: TakeWriter, recorded: Recorded, workers: int, max_pending: int | None = None):
        if workers < 1:
            raise ValueError(f"an export pool needs at least 1 worker, got {workers}")
        self.writer = writer
        self.recorded = recorded
        self.max_pending = max_pending or 2 * workers
        self._pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                            initializer=_worker_setup, initargs=(os.getpid(),))
        self._pending: collections.deque[tuple[Generated, concurrent.futures.Future]] = collections.deque()
        for _ in range(workers):  # the workers start and import while the first window generates
            self._pool.submit(_warm_up, writer.options)

    def submit(self, gen: Generated) -> None:
        """Queues one take; first waits for (and records) the oldest while the queue is full."""
        while len(self._pending) >= self.max_pending:
            self._record_oldest()
        if gen.clip is None:  # failed generation: nothing to export, record it in turn
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_result(export_take(self.writer.options, gen))
        else:
            try:
                # a copy: the work item is pickled later, by the pool's thread, after the
                # caller has dropped `gen.clip`
                future = self._pool.submit(export_take, self.writer.options, dataclasses.replace(gen))
            except concurrent.futures.process.BrokenProcessPool as exc:
                raise ExportBroken(f"an export worker died ({exc}); rerun with --resume") from None
        self._pending.append((gen, future))

    def drain(self) -> None:
        while self._pending:
            self._record_oldest()

    def _record_oldest(self) -> None:
        gen, future = self._pending.popleft()
        try:
            entry, disk_full = future.result()
        except concurrent.futures.process.BrokenProcessPool as exc:
            raise ExportBroken(f"an export worker died while exporting take {gen.take.name} ({exc}); rerun with --resume") from None
        self.recorded(gen, self.writer.record(entry, disk_full))

    def close(self) -> None:
        """Stops the workers: queued takes are dropped (--resume redoes them); takes already
        exporting finish and are recorded, so no file is left without its manifest entry."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            for gen, future in self._pending:
                if future.cancelled() or future.exception() is not None:
                    continue
                self.recorded(gen, self.writer.record(*future.result()))
        except OSError:  # out of space (DiskFull) on the way out: the run already stops
            pass
        finally:
            self._pending.clear()


def _worker_setup(parent: int) -> None:
    """Ctrl-C reaches the whole process group: the batch process winds its workers down itself.
    A worker also exits once its batch process is gone (SIGKILL, OOM killer): it would otherwise
    wait on the task queue forever, an orphan."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def exit_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=exit_with_parent, name="motionbridge-export-parent-watch", daemon=True).start()


def _warm_up(options: OutputOptions) -> None:
    from motionbridge.exporters import registry  # noqa: F401  (the writers' imports)

    if options.rig:
        retarget.load_target(options.rig)


def make_exporter(writer: TakeWriter, recorded: Recorded, workers: int, window: int) -> InlineExporter | ExportPool:
    """The queue holds two windows: one exporting while the next generates, one being handed over."""
    if workers < 1:
        return InlineExporter(writer, recorded)
    return ExportPool(writer, recorded, workers, max_pending=max(2 * window, 2 * workers))
