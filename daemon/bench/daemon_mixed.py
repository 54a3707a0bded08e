"""`motionbridge bench --scenario daemon-mixed`: what animators see from a real daemon.

A real `motionbridge serve` subprocess (one worker) serves a random engine of the real shapes
with real-shape random text encoders (random_models.random_text_engine: the weights are made
on the device, not written to disk; the real weights are not available to us). A client sends
a fixed, seeded mix of requests one after another (durations 1.5-12 s, prompts 3-50 words,
1-4 variations), as an animator clicking Generate would, and we report per-request latency
(p50, p90, max) and the progress stages seen:
  cold    a daemon started with an empty compile cache ($MOTIONBRIDGE_HOME of the run);
  restart the daemon started again on the same cache;
  engine  the same mix in this process, on an engine of the same factory (warm cache);
and the time to ready of both starts, and the daemon's overhead: one repeated request (a
compiled shape, same prompt, new seeds) through the daemon against the same in the engine.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from motionbridge.daemon.bench.report import stage_ms

WORDS = ("person walks forward slowly then turns left and waves with the right hand jumps twice "
         "kneels down stands up runs in a circle looks around carefully picks something from the floor "
         "throws it far dances happily stretches both arms sits on a chair claps").split()
REPEAT = ("A person walks forward.", 5.0, 1)


def request_mix(n: int = 24, seed: int = 0) -> list[tuple[str, float, int]]:
    """(prompt, duration, variations): 3-50 words, 1.5-12 s in half seconds, 1-4 seeds."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.randint(3, 50)
        prompt = "A " + " ".join(rng.choice(WORDS) for _ in range(words - 1)) + "."
        out.append((prompt, rng.randint(3, 24) / 2, rng.randint(1, 4)))
    return out


def _quantiles(ms: list[float]) -> dict:
    s = sorted(ms)
    return {"n": len(s), "p50": round(statistics.median(s), 1), "p90": round(s[min(len(s) - 1, int(0.9 * len(s)))], 1),
            "max": round(s[-1], 1), "over_1s": sum(x > 1000 for x in s)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`motionbridge serve` on a free loopback port with the bench engine; `ready_s` from the
    process start to a worker reporting ready."""

    def __init__(self, home: Path, device: str, options: dict[str, str], log: Path, warm_up: str = "5",
                 serve_args: tuple[str, ...] = (), factory: str = "motionbridge.daemon.bench.random_models:random_text_engine") -> None:
        self.endpoint = f"tcp://127.0.0.1:{_free_port()}"
        cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "serve", "--bind", self.endpoint, "--device", device,
               "--engine-factory", factory, "--warm-up", warm_up]
        for k, v in options.items():
            cmd += ["--engine-option", f"{k}={v}"]
        cmd += list(serve_args)  # e.g. --workers, --max-batch (bench/multi_gpu_scaling.py)
        env = {**os.environ, "MOTIONBRIDGE_HOME": str(home)}
        env.pop("TORCHINDUCTOR_CACHE_DIR", None)
        env.pop("TRITON_CACHE_DIR", None)
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        from motionbridge.daemon.protocol.client import MotionBridgeClient

        self.client = MotionBridgeClient(self.endpoint)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode} before it was ready; see {log}")
            try:
                if any(w["ready"] for w in self.client.status(timeout_s=2.0)["workers"]):
                    break
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            time.sleep(0.2)
        self.ready_s = time.perf_counter() - t0

    def settle(self, timeout_s: float) -> float | None:
        """Waits up to `timeout_s` for every worker's background compiles to finish (STATUS
        `compiles`); the seconds it waited, or None on timeout."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            if compiles_settled(self.client.status(timeout_s=5.0)):
                return round(time.perf_counter() - t0, 1)
            time.sleep(1.0)
        return None

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def compiles_settled(status: dict) -> bool:
    """No worker of this STATUS compiles or waits to compile anything."""
    return all(w.get("compiles") is None or (not w["compiles"].get("queued") and w["compiles"].get("compiling") is None)
               for w in status.get("workers", []))


def _through_daemon(client, prompt: str, duration: float, seeds: tuple[int, ...]) -> tuple[float, set[str], dict]:
    stages: set[str] = set()
    timings: dict = {}  # the engine's own seconds (text, sample, decode) of the request's first take

    def on_event(ev) -> None:
        if ev.kind == "progress":
            stages.add(str(ev.data.get("stage", "")))
        elif ev.kind == "result" and not timings:
            timings.update(ev.data.get("timings") or {})

    t0 = time.perf_counter()
    handle = client.generate(prompt, duration_s=duration, seeds=seeds, on_event=on_event)
    clips = handle.wait(600)
    ms = (time.perf_counter() - t0) * 1000
    if len(clips) != len(seeds):
        raise RuntimeError(f"{len(clips)} takes for {len(seeds)} seeds")
    return ms, stages - {""}, timings


def _in_engine(engine, prompt: str, duration: float, seeds: tuple[int, ...]) -> tuple[float, set[str], dict]:
    from motionbridge.daemon.engine.api import GenerationRequest

    stages: set[str] = set()
    t0 = time.perf_counter()
    takes = engine.generate([GenerationRequest(prompt, duration, seeds, 5.0)], on_step=lambda info: stages.add(info.stage))
    return (time.perf_counter() - t0) * 1000, stages - {""}, dict(takes[0].timings) if takes else {}


def _mix(run, mix, seed0: int) -> dict:
    rows, stages = [], {}
    for i, (prompt, duration, k) in enumerate(mix):
        ms, seen, timings = run(prompt, duration, tuple(range(seed0 + 10 * i, seed0 + 10 * i + k)))
        rows.append({"words": len(prompt.split()), "duration_s": duration, "seeds": k, "ms": round(ms, 1), "stages": sorted(seen),
                     "engine_ms": stage_ms(timings)})
        for s in seen:
            stages[s] = stages.get(s, 0) + 1
        print(f"  {i + 1:2d}/{len(mix)} {duration:4.1f} s {k} seeds {len(prompt.split()):2d} words: {ms:8.1f} ms {sorted(seen)}", flush=True)
    # where the time goes: each engine stage's median over the requests (text, sample, capture, decode)
    names = sorted({name for r in rows for name in r["engine_ms"]})
    stage_p50 = {n: round(statistics.median(r["engine_ms"][n] for r in rows if n in r["engine_ms"]), 1) for n in names}
    return {**_quantiles([r["ms"] for r in rows]), "requests_with_stage": stages, "engine_stage_p50_ms": stage_p50, "requests": rows}


def _repeat(run, times: int = 15) -> dict:
    prompt, duration, k = REPEAT
    ms = [run(prompt, duration, tuple(range(100 + i, 100 + i + k)))[0] for i in range(times + 2)][2:]  # 2 to compile/capture
    return {"median_ms": round(statistics.median(ms), 2), "min_ms": round(min(ms), 2), "n": len(ms)}


def run_scenario(model: str, device: str, n: int, out_dir: Path, steps: int | None = None, options: dict[str, str] | None = None,
                 save=lambda result: None, warm_up: str = "5", settle_s: float = 0.0) -> dict:
    """`save(result so far)` after each phase, so that a run cut short keeps what it measured.
    `settle_s`: after READY (and after the in-process warm-up), wait up to this long for the
    background compiles to finish before the mix (a dynamic compile's code variants take
    minutes): the mix then measures the compiled path, and `settled_s` says how long that took
    (None: it did not finish in time)."""
    import torch

    from motionbridge.daemon.bench.random_models import random_text_engine

    options = {"model": model, **({"steps": str(steps)} if steps else {}), **(options or {})}
    mix = request_mix(n)
    home = Path(tempfile.mkdtemp(prefix="mb-bench-home-"))
    log = out_dir / f"daemon-mixed-{model}.log"
    result: dict = {"model": model, "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
                    "torch": torch.__version__, "requests": n, "engine_options": options, "serve_warm_up": warm_up,
                        "weights": "random, real shapes (made on the device)"}
    for phase in ("cold", "restart"):
        print(f"{phase}: starting serve", flush=True)
        d = Daemon(home, device, options, log, warm_up)
        try:
            print(f"{phase}: ready after {d.ready_s:.1f} s", flush=True)
            settled = {"settled_s": d.settle(settle_s)} if settle_s > 0 else {}
            result[phase] = {"ready_s": round(d.ready_s, 1), **settled,
                             **_mix(lambda *a: _through_daemon(d.client, *a), mix, 1000 if phase == "cold" else 2000)}
            if phase == "restart":
                result["daemon_repeat"] = _repeat(lambda *a: _through_daemon(d.client, *a))
        finally:
            d.stop()
        save(result)
    print("engine: building in this process", flush=True)
    os.environ["MOTIONBRIDGE_HOME"] = str(home)
    from motionbridge.daemon.engine.compile.cache import use_compile_cache

    os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    use_compile_cache(home)
    extra = {k: v for k, v in options.items() if k not in ("model",)}
    engine = random_text_engine(device, **{"model": model, **extra})
    engine.warm_up(durations=(5.0,))
    settled = {}
    if settle_s > 0 and getattr(engine, "compiler", None) is not None:
        t0 = time.perf_counter()
        settled = {"settled_s": round(time.perf_counter() - t0, 1) if engine.compiler.wait_idle(settle_s) else None}
    result["engine"] = {**settled, **_mix(lambda *a: _in_engine(engine, *a), mix, 3000)}
    result["engine_repeat"] = _repeat(lambda *a: _in_engine(engine, *a))
    result["daemon_overhead_ms"] = round(result["daemon_repeat"]["median_ms"] - result["engine_repeat"]["median_ms"], 2)
    result["compile_events"] = engine.compile_events[-50:]
    save(result)
    return result


def run(args) -> int:
    out = Path(args.json).parent if args.json else Path(tempfile.mkdtemp(prefix="mb-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if args.device == "cuda" else "cpu"
    results = {"scenario": "daemon-mixed", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "models": {}}
    options = dict(o.split("=", 1) for o in (args.engine_option or []))
    # a `timeout` or Ctrl-C still stops the serve subprocess (run_scenario's finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def save(model: str, result: dict) -> None:
        results["models"][model] = result
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")

    for model in (args.models or ("1.0" if device == "cuda" else "tiny-random")).split(","):
        run_scenario(model, device, args.requests, out, None if args.steps == 50 else args.steps, options,
                     lambda r, model=model: save(model, r), getattr(args, "serve_warm_up", "5"), getattr(args, "settle_s", 0.0))
        got = results["models"].get(model, {})
        print(json.dumps({p: {k: got[p][k] for k in ("ready_s", "p50", "p90", "max", "over_1s") if k in got[p]}
                          for p in ("cold", "restart", "engine") if p in got}), flush=True)
    return 0
