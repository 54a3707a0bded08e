"""What directed takes cost on the engine users run (issue 18's GPU targets): on a fast engine,
a plain take against the same take with each control, and a long extended take, in one run on
one device.

    python -m motionbridge.daemon.bench.controls_cost --device cuda --model 1.0 --json cost.json

Targets (1.0B, 5 s): replacement-style controls at most 1.3x a plain take; a 30 s extended take
at most 1 s. Each figure is the median of `--repeats` runs after one warm-up run, timed once the
background compiles that the first runs queued are done (on a GPU; `compiled`); the plain take
and the directed ones run the engine's usual path (on a GPU, the loop captured in CUDA graphs,
a directed take's with its constraints inside; engine/fast/constraint_buffers.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from motionbridge.daemon.bench.report import stage_ms

PROMPT = "A person walks forward."


def _median_ms(run, repeats: int) -> tuple[float, dict]:
    """(median wall ms of `repeats` runs after a warm-up run, the last run's stages in ms: text,
    sampling and decode as the first take's timings give them)."""
    run()  # warm-up: compiles, captures, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        takes = run()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1), stage_ms(takes[0].timings) if takes else {}


def settle(engine, timeout_s: float) -> bool | None:
    """Waits up to `timeout_s` for `engine`'s background compiles (compile/shape_compiler.py) to
    finish, so that the timed takes run on the compiled path users get once a shape is ready,
    not on the stand-in. True when they did, False on timeout, None without a compiler."""
    compiler = getattr(engine, "compiler", None)
    return None if compiler is None else compiler.wait_idle(timeout_s)


def measure(engine, repeats: int = 3, seconds: float = 5.0, extend_seconds: float = 30.0, settle_s: float = 180.0) -> dict:
    """{plain_ms, controls: {name: {ms, x_plain}}, extend: {seconds, ms}, compiled} on `engine`;
    takes of `seconds` (capped to 3/4 of the model's window) and one extended take of
    `extend_seconds`. Each take runs once first, which queues its shapes' compiles, and the
    timing starts once they are done (`settle`; `compiled` says whether they were)."""
    from motionbridge.daemon.controls import spec
    from motionbridge.daemon.controls.served import generate_directed
    from motionbridge.daemon.engine.api import GenerationRequest
    from motionbridge.daemon.model.encode import model_pose

    window = engine.config.pipeline.train_frames
    seconds = min(seconds, 0.75 * window / 30)
    request = GenerationRequest(PROMPT, seconds, (0,), 5.0, request_id="cost")
    base = engine.generate([request])[0].clip
    n = base.num_frames
    rot, transl = model_pose(base)
    keys = (n // 3, 2 * n // 3)
    directed = {
        "start": spec.Controls(start=spec.start_poses(base, None, Path("base"))),
        "keys": spec.Controls(keys=spec.Poses(rot[list(keys)], transl[list(keys)]), key_frames=keys),
        "loop": spec.Controls(loop=True),
    }
    frames = round(extend_seconds * 30)
    long = GenerationRequest(PROMPT, frames / 30, (0,), 5.0, request_id="cost-extend")
    extended = spec.Controls(timeline=spec.prompt_timeline(PROMPT, [], frames / 30), extend_frames=frames)
    for c in directed.values():
        generate_directed(engine, request, c)
    generate_directed(engine, long, extended)
    compiled = settle(engine, settle_s)
    plain_ms, plain_stages = _median_ms(lambda: engine.generate([request]), repeats)
    controls = {}
    for name, c in directed.items():
        ms, stages = _median_ms(lambda c=c: generate_directed(engine, request, c), repeats)
        controls[name] = {"ms": ms, "x_plain": round(ms / plain_ms, 2), "stages_ms": stages}
    extend_ms, _ = _median_ms(lambda: generate_directed(engine, long, extended), max(1, repeats // 2))
    return {"take_s": round(seconds, 3), "plain_ms": plain_ms, "plain_stages_ms": plain_stages, "controls": controls,
            "extend": {"seconds": round(frames / 30, 3), "ms": extend_ms}, "compiled": compiled}


def main(argv: list[str] | None = None) -> int:
    import torch

    from motionbridge.daemon.bench.random_models import random_engine
    from motionbridge.daemon.engine.fast.config import FastConfig

    parser = argparse.ArgumentParser(prog="python -m motionbridge.daemon.bench.controls_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="1.0", help="1.0 or lite: random weights of the real shapes")
    parser.add_argument("--dtype", default=None, help="float32 or bfloat16 (default: the device's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    fast = FastConfig.for_device(args.device, args.dtype)
    engine = random_engine(args.device, args.model, prompts=(PROMPT,), **vars(fast))
    result = {"device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device, "torch": torch.__version__,
              "model": args.model, "dtype": fast.dtype, **measure(engine, args.repeats)}
    print(json.dumps(result, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
