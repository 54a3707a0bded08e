"""The model worker: one process per GPU (one on CPU), supervised by the server.

It owns the engine and talks to the server over a ZeroMQ PAIR socket with the same framing
as the public protocol (its commands: daemon/protocol/link.py). The server never waits on it: a
worker that dies, hangs or reports a sticky device error is killed and restarted.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field

import zmq

from motionbridge.daemon.protocol import frames as P
from motionbridge.daemon.protocol import link as L
from motionbridge.daemon.protocol.link import link_recv, link_send
from motionbridge.daemon.protocol.payload import progress_message, result_message
from motionbridge.rigs.root_motion import apply_root_motion

from .parent_watch import die_with_parent


@dataclass
class EngineSpec:
    """How the worker builds its engine; plain data so it crosses the spawn boundary."""

    checkpoint: str | None = None
    qwen: str | None = None
    clip: str | None = None
    parity: str | None = None
    factory: str | None = None  # "module:function" returning an Engine (tests, custom engines)
    kind: str = "fast"  # "fast" (batches across requests) or "reference" (the exact, one-by-one engine)
    device: str = "cpu"
    dtype: str = "auto"  # see engine.kinds.resolve_dtype
    options: dict[str, str] = field(default_factory=dict)
    threads: int | None = None  # torch intra-op threads per worker (CPU kernels round by thread count)
    warm_up: tuple[float, ...] | None = None  # clip lengths run once before READY; None: 5 s on a GPU
    precompile_all: bool = False  # after READY, queue every shape's compile in the background (serve --warm-up all)
    max_rows: int = 8  # the server's rows per batch: the largest batch shape to precompile
    low_vram: str = ""  # fast engine: how low-VRAM mode keeps Qwen3 (engine/text/quantized.py); "" off

    def build(self):
        if self.factory:
            module, _, name = self.factory.partition(":")
            return getattr(importlib.import_module(module), name)(device=self.device, **self.options)
        from motionbridge.daemon.engine.kinds import engine_class as engine_of
        from motionbridge.daemon.engine.kinds import resolve_dtype

        engine_class = engine_of(self.kind)
        dtype = resolve_dtype(self.kind, self.device, self.dtype)
        memory = {"memory": "low_vram", "low_vram_text": self.low_vram} if self.low_vram else {}
        if self.parity:
            return engine_class.from_parity(self.parity, device=self.device, dtype=dtype, **memory)
        return engine_class.from_dirs(self.checkpoint, self.qwen, self.clip, device=self.device, dtype=dtype, **memory)


def is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class _Link:
    """The worker's side: polls for CANCEL between Euler steps without blocking the engine."""

    def __init__(self, sock: zmq.Socket):
        self.sock = sock
        self.cancelled: set[str] = set()
        self.stopping = False

    def pump(self) -> list[P.Message]:
        """Reads whatever arrived; CANCELs are applied here, other commands returned."""
        out = []
        while self.sock.poll(0):
            msg = link_recv(self.sock)
            if msg.command == L.CANCEL:
                self.cancelled.add(str(msg.header.get("id")))
            elif msg.command == L.STOP:
                self.stopping = True
            else:
                out.append(msg)
        return out


def _run_batch(engine, link: _Link, msg: P.Message) -> None:
    from motionbridge.daemon.engine.api import Cancelled, GenerationRequest

    batch = msg.header["batch"]
    preview_every = int(msg.header.get("preview_every", 0))
    wants_preview = set(msg.header.get("preview_ids", []))
    requests = [GenerationRequest(prompt=r["prompt"], duration_s=r["duration_s"], seeds=tuple(r["seeds"]), cfg=r["cfg"],
                                  game_feat=r["game_feat"], request_id=r["id"]) for r in msg.header["requests"]]
    root_motion = {r["id"]: r["root_motion"] for r in msg.header["requests"]}

    def on_step(info) -> None:
        with_preview = {rid for rid in (info.previews or {}) if rid in wants_preview}
        # a PROGRESS with previews stands in for that row's STEP, so each step reaches each client once
        stage = {"stage": info.stage, "queued": info.queued} if getattr(info, "stage", "") else {}
        link_send(link.sock, L.STEP, {"batch": batch, "step": info.step, "total": info.total,
                                      "ids": [r for r in info.request_ids if r not in with_preview], **stage})
        for rid, clips in (info.previews or {}).items():
            if rid in with_preview:
                m = progress_message(rid, info.step, info.total, [apply_root_motion(c, root_motion[rid]) for c in clips], **stage)
                link_send(link.sock, m.command, m.header, m.arrays)

    def is_cancelled(rid: str) -> bool:
        link.pump()
        return rid in link.cancelled

    directed = [r for r in msg.header["requests"] if r.get("controls") is not None]  # the server sends those alone
    try:
        if directed:
            from motionbridge.daemon.controls.served import generate_directed
            from motionbridge.daemon.controls.wire import from_wire

            controls = from_wire(directed[0]["controls"], msg.arrays, requests[0].duration_s)
            takes = generate_directed(engine, requests[0], controls, on_step, is_cancelled, preview_every)
        else:
            takes = engine.generate(requests, on_step=on_step, is_cancelled=is_cancelled, preview_every=preview_every)
    except Cancelled:
        takes = []
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none kills the link silently
        if is_oom(exc):
            _free_device_cache()
            link_send(link.sock, L.OOM, {"batch": batch, "message": str(exc)[:500]})
            return
        health = _health(engine)
        link_send(link.sock, L.FAIL, {"batch": batch, "message": f"{type(exc).__name__}: {exc}"[:1000],
                                      "healthy": bool(health.get("ok", False)), "reason": str(health.get("reason", ""))})
        traceback.print_exc()
        return
    seen: dict[str, int] = {}
    for take in takes:
        if take.request_id in link.cancelled:
            continue
        index = seen.get(take.request_id, 0)
        seen[take.request_id] = index + 1
        clip = apply_root_motion(take.clip, root_motion[take.request_id])
        m = result_message(take.request_id, take.seed, index, clip, take.warnings, take.timings)
        link_send(link.sock, m.command, {**m.header, "batch": batch}, m.arrays)
    link_send(link.sock, L.DONE, {"batch": batch})


def _queue_every_shape(engine, max_rows: int) -> None:
    """Every (length, prompt, rows) bucket shape this engine can meet with batches of up to
    `max_rows`, queued behind any request's compile (requests go first)."""
    from motionbridge.daemon.engine.compile.warm import shapes

    fast = engine.fast
    rows = [r for r in fast.row_buckets if r <= max_rows] or [1]
    todo = shapes(fast, engine.config.pipeline, [f / engine.config.pipeline.output_mesh_fps for f in fast.frame_buckets], fast.text_buckets, rows)
    for duration, tokens, seeds in todo:
        engine.precompile(duration, tokens, seeds, wait=False)
    _log_compile_event({"event": "precompile_queued", "shapes": len(todo)})


def _log_compile_event(event: dict) -> None:
    """The background compiles (engine/compile/shape_compiler.py) as JSON lines on the worker's stderr."""
    print(json.dumps({"ts": round(time.time(), 3), "pid": os.getpid(), **event}), file=sys.stderr, flush=True)


class _CompileReport:
    """Sends the engine's background-compile summary (ShapeCompiler.summary) over the link when
    it changed; from the worker's main thread, which owns the socket (the compile thread only
    changes the summary)."""

    def __init__(self, engine) -> None:
        self.compiler = getattr(engine, "compiler", None)
        self.sent: dict | None = None

    def send_if_changed(self, sock) -> None:
        if self.compiler is None:
            return
        summary = dict(self.compiler.summary())  # ready, failed, queued, compiling
        if summary != self.sent:
            link_send(sock, L.COMPILES, summary)
            self.sent = summary


def _health(engine) -> dict:
    try:
        return dict(engine.health())
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "reason": f"health check failed: {exc}"}


def _free_device_cache() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass


def worker_main(endpoint: str, spec: EngineSpec, gpu_index: int | None, parent_pid: int | None = None) -> None:
    """Entry point of the spawned worker process."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if gpu_index is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(endpoint)
    link = _Link(sock)
    t0 = time.perf_counter()
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    if spec.device.startswith("cuda"):
        # Inductor's compiled kernels outlive the process here (not in /tmp, often wiped), so a
        # restarted daemon loads each shape in seconds instead of compiling it again
        from motionbridge.daemon.engine.compile.cache import use_compile_cache

        use_compile_cache()
    try:
        engine = spec.build()
        if getattr(engine, "compiler", None) is not None:
            engine.on_compile_event = _log_compile_event
    except Exception as exc:  # noqa: BLE001
        link_send(sock, L.FAIL, {"batch": None, "message": f"engine failed to load: {type(exc).__name__}: {exc}"[:1000],
                                 "healthy": False, "reason": "load"})
        sock.close()
        ctx.term()
        raise SystemExit(3) from exc
    warm_up = spec.warm_up if spec.warm_up is not None else ((5.0,) if spec.device.startswith("cuda") else ())
    if warm_up and hasattr(engine, "warm_up"):
        # graph capture (and, without a background compiler, compiling) costs seconds per new
        # shape: pay it for the panel's default length before READY, not on the first click. A
        # background compiler compiles behind READY instead (the H100's cold 1.0B warm-up compile
        # was 42 s of a 70 s start); meanwhile that length runs uncompiled
        background = {"compile_first": False} if getattr(engine, "compiler", None) is not None else {}
        try:
            engine.warm_up(durations=warm_up, **background)
        except Exception as exc:  # noqa: BLE001  (a failing warm-up is a failing engine)
            link_send(sock, L.FAIL, {"batch": None, "message": f"engine warm-up failed: {type(exc).__name__}: {exc}"[:1000],
                                     "healthy": False, "reason": "load"})
            raise SystemExit(3) from exc
    if spec.precompile_all and getattr(engine, "compiler", None) is not None:
        _queue_every_shape(engine, spec.max_rows)
    link_send(sock, L.READY, {"model_name": getattr(engine, "model_name", "unknown"),
                              "model_hash": getattr(engine, "model_hash", ""), "load_s": time.perf_counter() - t0,
                              "pid": os.getpid()})
    compiles = _CompileReport(engine)
    while not link.stopping:
        compiles.send_if_changed(sock)  # between batches, so STATUS shows what compiles in the background
        if not sock.poll(200):
            continue
        for msg in link.pump():
            if msg.command == L.RUN:
                _run_batch(engine, link, msg)
                if not _health(engine).get("ok", False):
                    sock.close()
                    raise SystemExit(4)  # sticky device error: the server restarts us
    if hasattr(engine, "close"):
        engine.close()
    sock.close()
    ctx.term()
