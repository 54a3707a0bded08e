"""Starting, watching and restarting model worker processes."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass, field

import zmq

from motionbridge.daemon.protocol import link as L
from motionbridge.daemon.protocol.link import link_send

from .scheduler import Job
from .worker import EngineSpec, worker_main

log = logging.getLogger("motionbridge.server")


@dataclass(eq=False)
class WorkerHandle:
    index: int
    gpu: int | None
    proc: mp.process.BaseProcess | None = None
    sock: zmq.Socket | None = None
    endpoint: str = ""
    ready: bool = False
    batch: list[Job] = field(default_factory=list)
    batch_id: int = 0
    row_cap: int | None = None  # lowered after an OOM
    last_seen: float = 0.0
    started_at: float = 0.0
    died_at: float | None = None  # for measuring recovery
    restarts: int = 0
    load_failures: int = 0  # loads in a row that failed or timed out; READY resets it
    load_error: str = ""  # why the last load failed, for STATUS and for refused requests
    retry_at: float | None = None  # when a worker whose load failed is started again (no process until then)
    ever_ready: bool = False
    model_name: str = ""
    model_hash: str = ""
    compiles: dict | None = None  # its engine's background compiles (COMPILES), for STATUS

    @property
    def idle(self) -> bool:
        return self.ready and not self.batch

    def jobs_by_key(self) -> dict[str, Job]:
        return {j.key: j for j in self.batch}


class Supervisor:
    def __init__(self, ctx: zmq.Context, spec: EngineSpec, gpus: list[int | None]):
        self.ctx = ctx
        self.spec = spec
        self._mp = mp.get_context("spawn")
        self._dir = tempfile.mkdtemp(prefix="motionbridge-")
        self.workers = [WorkerHandle(i, g) for i, g in enumerate(gpus)]
        self._generation = 0

    def start(self, w: WorkerHandle) -> None:
        self._generation += 1
        # a fresh endpoint per generation, so nothing from a dead worker can arrive late
        w.endpoint = f"ipc://{self._dir}/worker{w.index}-{self._generation}.sock"
        w.sock = self.ctx.socket(zmq.PAIR)
        w.sock.setsockopt(zmq.LINGER, 0)
        w.sock.setsockopt(zmq.SNDTIMEO, 1000)
        w.sock.bind(w.endpoint)
        w.proc = self._mp.Process(target=worker_main, args=(w.endpoint, self.spec, w.gpu, os.getpid()),
                                  name=f"motionbridge-worker-{w.index}", daemon=True)
        w.proc.start()
        w.ready, w.retry_at = False, None
        w.started_at = w.last_seen = time.monotonic()
        log.info("worker starting", extra={"worker": w.index, "pid": w.proc.pid, "gpu": w.gpu})

    def stop(self, w: WorkerHandle, grace_s: float = 2.0) -> None:
        if w.sock is not None:
            try:
                link_send(w.sock, L.STOP, {})
            except zmq.ZMQError:
                pass
        if w.proc is not None:
            w.proc.join(grace_s)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(2.0)
        self._drop(w)

    def kill(self, w: WorkerHandle) -> None:
        if w.proc is not None and w.proc.is_alive():
            w.proc.kill()
            w.proc.join(2.0)
        self._drop(w)

    def _drop(self, w: WorkerHandle) -> None:
        if w.sock is not None:
            w.sock.close(0)
            path = w.endpoint.removeprefix("ipc://")
            if os.path.exists(path):
                os.unlink(path)
        w.sock, w.proc, w.ready = None, None, False

    def dead(self, w: WorkerHandle) -> bool:
        return w.proc is None or w.proc.exitcode is not None

    def close(self) -> None:
        for w in self.workers:
            self.stop(w)
        try:
            os.rmdir(self._dir)
        except OSError:
            pass


def detect_gpus(device: str) -> list[int | None]:
    """One worker per visible GPU for 'cuda', the given one for 'cuda:N', one CPU worker otherwise."""
    if device.startswith("cuda:"):
        return [int(device.split(":", 1)[1])]
    if device == "cuda":
        try:
            import torch

            n = torch.cuda.device_count()
        except Exception:  # noqa: BLE001
            n = 0
        if n == 0:
            raise ValueError("--device cuda but no CUDA GPU is visible; pass --device cpu")
        return list(range(n))
    return [None]
