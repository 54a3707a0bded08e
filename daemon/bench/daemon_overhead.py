"""`motionbridge bench --scenario daemon-overhead`: what the daemon adds to a take.

One request (a compiled shape: the same prompt and length, a new seed each time, as an animator's
next take) goes alternately through a real `motionbridge serve` subprocess (one worker) and
through an engine of the same factory in this process, `--takes` times each, side by side in one
run: take i runs in the daemon then in the engine, take i+1 the other way round, so that drift
(another process on the machine, clocks, caches) falls on both. Before measuring, both run the
request until neither reports a progress stage (a compile or capture in the background).

Reported: the median of each, their difference (the overhead), and the median of the paired
differences; where the daemon's time goes as its client sees it (the ACCEPTED, the first and last
PROGRESS, the last RESULT on the client's I/O thread, then wait() returning); the engine's own
seconds (text + sample + decode, from each take's timings) in the worker against in-process,
which tells a slower engine in the worker from a slower path around it; and how many takes came
back with the same bytes both ways (a take is a pure function of its request).

Default engines: on the CPU the tiny random engine with 10 Euler steps (as many PROGRESS events as
a 50-step take sends from the GPU's 5-step graph segments); on CUDA the real 1.0B shapes with
random weights, as `daemon-mixed` serves them. `--engine-factory module:function` serves another.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from .daemon_mixed import REPEAT, Daemon

RANDOM_ENGINE = "motionbridge.daemon.bench.random_models:random_text_engine"
CPU_STEPS = "10"
# on the CPU both engines run one torch thread: CPU kernels round by thread count (the same bytes
# need the same count), and neither one's idle OpenMP threads then spin on a core the other needs
CPU_THREADS = 1


def default_options(device: str, model: str | None) -> dict[str, str]:
    """The random engine's options: the CPU's tiny model and steps, the GPU's real shapes."""
    if device == "cpu":
        return {"model": model or "tiny-random", "steps": CPU_STEPS}
    return {"model": model or "1.0"}


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _engine_s(timings: dict) -> float | None:
    """The engine's own seconds of a take (its text, sample and decode timings), if it reports them."""
    parts = [float(timings[k]) for k in ("text_s", "sample_s", "decode_s") if k in timings]
    return sum(parts) if parts else None


def daemon_take(client, prompt: str, duration: float, seeds: tuple[int, ...]) -> dict:
    """One take through the daemon: the client's milliseconds to each event, its clips and the
    engine's seconds. Event times are taken on the client's I/O thread as each event arrives."""
    marks: dict[str, float] = {}
    timings: dict = {}

    def on_event(ev) -> None:
        now = time.perf_counter()
        if ev.kind in ("progress", "preview"):
            marks.setdefault("first_progress", now)
            marks["last_progress"] = now
            marks.setdefault("stage", ev.data.get("stage", ""))
        elif ev.kind == "result":
            marks["result"] = now
            timings.update(ev.data.get("timings") or {})
        elif ev.kind == "accepted":
            marks["accepted"] = now

    t0 = time.perf_counter()
    handle = client.generate(prompt, duration_s=duration, seeds=seeds, on_event=on_event)
    clips = handle.wait(600)
    total = time.perf_counter() - t0
    out = {"ms": 1000 * total, "clips": clips, "engine_s": _engine_s(timings), "stage": marks.pop("stage", "")}
    out.update({f"{k}_ms": 1000 * (v - t0) for k, v in marks.items()})
    return out


def engine_take(engine, prompt: str, duration: float, seeds: tuple[int, ...]) -> dict:
    from motionbridge.daemon.engine.api import GenerationRequest

    stages: list[str] = []
    t0 = time.perf_counter()
    takes = engine.generate([GenerationRequest(prompt, duration, seeds, 5.0)], on_step=lambda info: stages.append(info.stage))
    total = time.perf_counter() - t0
    return {"ms": 1000 * total, "clips": [t.clip for t in takes], "engine_s": _engine_s(takes[0].timings or {}),
            "stage": next((s for s in stages if s), "")}


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.rotations.tobytes() == y.rotations.tobytes()
                                    and x.root_translation.tobytes() == y.root_translation.tobytes() for x, y in zip(a, b))


def measure(through_daemon, in_engine, takes: int, request=REPEAT, warm_limit_s: float = 900.0) -> dict:
    """`through_daemon` and `in_engine`: (prompt, duration, seeds) -> a take's dict (daemon_take,
    engine_take). Warms both until neither reports a stage (at least two takes each, at most
    `warm_limit_s`), then runs `takes` interleaved pairs."""
    prompt, duration, k = request
    warm, start = 0, time.monotonic()
    while True:  # a shape compiling in the background runs on a slower path meanwhile
        seeds = tuple(range(10_000 + k * warm, 10_000 + k * warm + k))
        stages = {through_daemon(prompt, duration, seeds)["stage"], in_engine(prompt, duration, seeds)["stage"]}
        warm += 1
        if (warm >= 2 and stages == {""}) or time.monotonic() - start > warm_limit_s:
            break
    pairs = []
    for i in range(takes):
        seeds = tuple(range(k * i, k * i + k))
        if i % 2 == 0:
            d = through_daemon(prompt, duration, seeds)
            e = in_engine(prompt, duration, seeds)
        else:
            e = in_engine(prompt, duration, seeds)
            d = through_daemon(prompt, duration, seeds)
        pairs.append((d, e))
    daemon_ms = [d["ms"] for d, _ in pairs]
    engine_ms = [e["ms"] for _, e in pairs]
    result = {
        "takes": takes, "warm_takes": warm, "prompt": prompt, "duration_s": duration, "seeds_per_take": k,
        "daemon_ms": _median(daemon_ms), "engine_ms": _median(engine_ms),
        "overhead_ms": round(_median(daemon_ms) - _median(engine_ms), 3),
        "paired_overhead_ms": _median([d - e for d, e in zip(daemon_ms, engine_ms)]),
        "daemon_min_ms": round(min(daemon_ms), 3), "engine_min_ms": round(min(engine_ms), 3),
        "same_takes": sum(_same(d["clips"], e["clips"]) for d, e in pairs),
        "stages_while_measuring": sorted(({d["stage"] for d, _ in pairs} | {e["stage"] for _, e in pairs}) - {""}),
        # the daemon take's milliseconds from the client's send to each event's arrival
        "daemon_events_ms": {name: _median([d[f"{name}_ms"] for d, _ in pairs if f"{name}_ms" in d])
                             for name in ("accepted", "first_progress", "last_progress", "result")
                             if any(f"{name}_ms" in d for d, _ in pairs)},
    }
    if all(d["engine_s"] is not None and e["engine_s"] is not None for d, e in pairs):
        worker = [1000 * d["engine_s"] for d, _ in pairs]
        local = [1000 * e["engine_s"] for _, e in pairs]
        result["engine_own_ms"] = {"in_worker": _median(worker), "in_process": _median(local)}
        # the overhead split: the engine itself slower in the worker, and the path around it
        result["engine_slowdown_ms"] = round(_median(worker) - _median(local), 3)
        result["around_engine_ms"] = round(_median([d - w for d, w in zip(daemon_ms, worker)])
                                           - _median([e - w for e, w in zip(engine_ms, local)]), 3)
    return result


def run_scenario(device: str, takes: int, factory: str = RANDOM_ENGINE, options: dict[str, str] | None = None,
                 log: Path | None = None, warm_up: str = "5") -> dict:
    from motionbridge.daemon.server.worker import EngineSpec

    options = dict(options or {})
    home = Path(tempfile.mkdtemp(prefix="mb-bench-home-"))
    log = log or home / "serve.log"
    threads = ("--threads", str(CPU_THREADS)) if device == "cpu" else ()
    d = Daemon(home, device, options, log, warm_up, serve_args=threads, factory=factory)
    try:
        if device == "cpu":
            import torch

            torch.set_num_threads(CPU_THREADS)
        os.environ["MOTIONBRIDGE_HOME"] = str(home)  # the in-process engine shares the daemon's compile cache
        if device.startswith("cuda"):
            from motionbridge.daemon.engine.compile.cache import use_compile_cache

            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            use_compile_cache(home)
        engine = EngineSpec(factory=factory, device=device, options=options).build()
        result = measure(lambda *a: daemon_take(d.client, *a), lambda *a: engine_take(engine, *a), takes)
    finally:
        d.stop()
    return {"device": _device_name(device), "engine_factory": factory, "engine_options": options,
            "ready_s": round(d.ready_s, 1), **result}


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    import platform

    return platform.processor() or platform.machine() or "cpu"


def summary(result: dict) -> str:
    line = (f"daemon {result['daemon_ms']:.2f} ms, engine {result['engine_ms']:.2f} ms in-process: overhead "
            f"{result['overhead_ms']:.2f} ms (paired {result['paired_overhead_ms']:.2f} ms), median of {result['takes']} takes each; "
            f"{result['same_takes']} of {result['takes']} takes the same bytes both ways")
    if "engine_slowdown_ms" in result:
        line += f"; engine slower in the worker by {result['engine_slowdown_ms']:.2f} ms, around it {result['around_engine_ms']:.2f} ms"
    return line


def run(args) -> int:
    import json

    from motionbridge.exporters.atomic import atomic_path

    device = "cuda" if args.device == "cuda" else "cpu"
    factory = args.engine_factory or RANDOM_ENGINE
    options = default_options(device, args.models) if factory == RANDOM_ENGINE else {}
    options.update(dict(o.split("=", 1) for o in args.engine_option))
    log = Path(args.json).with_suffix(".log") if args.json else None
    result = {"scenario": "daemon-overhead", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              **run_scenario(device, args.takes, factory, options, log, args.serve_warm_up)}
    print(summary(result), flush=True)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0
