"""Several GPUs of one host: one engine per GPU, each in its own process, fed by one scheduler.

`MultiGpuEngine` starts `python -m motionbridge.daemon.engine.multi_gpu --worker` per device;
each worker builds its engine with a factory ("module:function", called as f(device, **args))
and answers msgpack frames on stdin/stdout (wire.py). One feeder thread per worker pulls
requests from a shared work queue, so a free GPU always takes the next request. A worker that
dies has its request put back for the others (once); health() then reports not ok.
Each worker sends its Euler-step events as frames before the result; the scheduler hands them
to the caller's `on_step` (from the feeder threads, one at a time). Cancellation is checked
before dispatch and, between requests, by the caller's `is_cancelled`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Callable, Sequence

from .api import Cancelled, Engine, GeneratedTake, GenerationRequest, StepInfo
from .reference import validate_request
from .wire import read_frame, request_from_dict, request_to_dict, take_from_dict, take_to_dict, write_frame


class WorkerError(RuntimeError):
    """An engine worker failed a request or died."""


class Worker:
    def __init__(self, index: int, device: str, factory: str, factory_args: dict) -> None:
        self.index, self.device = index, device
        cmd = [sys.executable, "-m", "motionbridge.daemon.engine.multi_gpu", "--worker", "--device", device, "--factory", factory, "--factory-args", json.dumps(factory_args)]
        env = dict(os.environ)
        if device.startswith("cuda:"):  # each process sees only its GPU, as cuda:0
            env["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.ready = read_frame(self.proc.stdout)
        if not self.ready or "error" in self.ready:
            self.proc.kill()
            raise WorkerError(f"engine worker on {device} failed to start: {(self.ready or {}).get('error', 'it exited')}")
        self.alive = True
        self.lock = threading.Lock()  # one frame exchange at a time (feeder vs health)

    def call(self, message: dict, on_event: Callable[[dict], None] | None = None) -> dict:
        """One exchange; frames with a "step" key before the reply go to `on_event`."""
        try:
            with self.lock:
                write_frame(self.proc.stdin, message)
                reply = read_frame(self.proc.stdout)
                while reply is not None and "step" in reply:
                    if on_event is not None:
                        on_event(reply)
                    reply = read_frame(self.proc.stdout)
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            self.alive = False
            raise WorkerError(f"engine worker on {self.device} died (exit code {self.proc.poll()})")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class _Job:
    def __init__(self, index: int, request: GenerationRequest) -> None:
        self.index, self.request = index, request
        self.takes: list[GeneratedTake] | None = None
        self.error = ""
        self.tries = 0
        self.done = threading.Event()
        self.on_event: Callable[[dict], None] | None = None


class MultiGpuEngine(Engine):
    def __init__(self, devices: Sequence[str], factory: str, factory_args: dict | None = None) -> None:
        if not devices:
            raise ValueError("pass at least one device, e.g. ['cuda:0', 'cuda:1']")
        self.workers: list[Worker] = []
        try:
            for i, dev in enumerate(devices):
                self.workers.append(Worker(i, dev, factory, factory_args or {}))
        except Exception:
            self.close()
            raise
        first = self.workers[0].ready
        self.model_name, self.model_hash = first.get("model_name", ""), first.get("model_hash", "")
        self.queue: queue.Queue[_Job | None] = queue.Queue()
        self.threads = [threading.Thread(target=self._feed, args=(w,), daemon=True) for w in self.workers]
        for t in self.threads:
            t.start()

    def _feed(self, worker: Worker) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            job.tries += 1
            try:
                reply = worker.call({"generate": [request_to_dict(job.request)]}, job.on_event)
            except WorkerError as exc:
                if job.tries < 2 and any(w.alive for w in self.workers):
                    self.queue.put(job)  # another worker takes it
                else:
                    job.error = str(exc)
                    job.done.set()
                return  # this worker is gone
            if "error" in reply:
                job.error = reply["error"]
            else:
                job.takes = [take_from_dict(t) for t in reply["takes"]]
                for take in job.takes:
                    take.clip.metadata["worker"] = worker.index
            job.done.set()

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        is_cancelled: Callable[[str], bool] | None = None,
        preview_every: int = 0,
    ) -> list[GeneratedTake]:
        checked = [validate_request(r)[0] for r in requests]  # bad input fails here, before any work
        jobs = [_Job(i, r) for i, r in enumerate(requests) if not (is_cancelled and is_cancelled(r.request_id))]
        if checked and not jobs:
            raise Cancelled("every request of the batch was cancelled")
        if on_step is not None:
            lock = threading.Lock()  # feeder threads report concurrently; the caller sees one at a time

            def forward(event: dict) -> None:
                with lock:
                    on_step(StepInfo(int(event["step"]), int(event["total"]), tuple(event["ids"]), None))

            for job in jobs:
                job.on_event = forward
        for job in jobs:
            self.queue.put(job)
        for job in jobs:
            job.done.wait()
        failed = [j for j in jobs if j.error]
        if failed:
            raise WorkerError(f"request {failed[0].request.request_id!r} failed: {failed[0].error}")
        return [t for j in jobs for t in j.takes]

    def health(self) -> dict[str, object]:
        per = []
        for w in self.workers:
            h = w.call({"health": True}) if w.alive and w.proc.poll() is None else {"ok": False, "reason": "worker process is gone"}
            per.append({"device": w.device, **h})
        bad = [p for p in per if not p.get("ok")]
        return {"ok": not bad, "reason": "; ".join(f"{p['device']}: {p.get('reason', '')}" for p in bad), "workers": per}

    def close(self) -> None:
        for _ in getattr(self, "threads", []):
            self.queue.put(None)
        for w in self.workers:
            w.close()


# -- worker side ----------------------------------------------------------------------------------


def load_factory(spec: str) -> Callable[..., Engine]:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"factory must be 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def worker_main(device: str, factory: str, factory_args: dict) -> int:
    proto = os.fdopen(os.dup(1), "wb")  # frames go here; stray prints go to stderr
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    try:
        engine = load_factory(factory)(device, **factory_args)
    except Exception as exc:
        write_frame(proto, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    write_frame(proto, {"ready": True, "device": device, "model_name": engine.model_name, "model_hash": engine.model_hash})
    while (msg := read_frame(stdin)) is not None:
        if "health" in msg:
            write_frame(proto, dict(engine.health()))
            continue
        def step_frame(info) -> None:
            write_frame(proto, {"step": info.step, "total": info.total, "ids": list(info.request_ids)})

        try:
            takes = engine.generate([request_from_dict(r) for r in msg["generate"]], on_step=step_frame)
            write_frame(proto, {"takes": [take_to_dict(t) for t in takes]})
        except Exception as exc:  # reported to the scheduler, the worker lives on
            write_frame(proto, {"error": f"{type(exc).__name__}: {exc}"})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="motionbridge-engine-worker")
    p.add_argument("--worker", action="store_true", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--factory", required=True)
    p.add_argument("--factory-args", default="{}")
    a = p.parse_args(argv)
    device = "cuda:0" if a.device.startswith("cuda") else a.device  # CUDA_VISIBLE_DEVICES narrowed it
    return worker_main(device, a.factory, json.loads(a.factory_args))


if __name__ == "__main__":
    sys.exit(main())
