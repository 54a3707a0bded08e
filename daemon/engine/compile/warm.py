"""`motionbridge warm`: compile every batch shape a configuration can meet, ahead of time.

Each (frames bucket, prompt-tokens bucket, rows bucket) is one compiled shape: 20-30 s from
nothing on an H100, so the default buckets (12 lengths x 4 prompt lengths x 4 batch sizes)
take over an hour. Run it at install time or when building a farm image; the code lands in
the compile cache under $MOTIONBRIDGE_HOME (compile/cache.py), where a daemon started later
loads each shape in seconds. Compiled code depends on the shapes and dtypes of the weights,
not their values, so `--random 1.0|lite` (random weights of the real shapes) fills the cache
for the real weights too (not verified: the real weights were not available to us).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TextIO

HELP = "compile every batch shape ahead of time into the compile cache (install time, farm images)"


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", help="HY-Motion checkpoint folder (config.yml + weights)")
    parser.add_argument("--qwen", help="Qwen3 text encoder folder")
    parser.add_argument("--clip", help="CLIP text encoder folder")
    parser.add_argument("--parity", help="the tiny parity fixture folder instead (tests)")
    parser.add_argument("--random", choices=("1.0", "lite"), help="random weights of this model's real shapes (no weights needed)")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--durations", default="all", help="clip lengths in seconds, comma list, or 'all' (one per frame bucket)")
    parser.add_argument("--text-tokens", default="all", help="prompt lengths in tokens, comma list, or 'all' (one per text bucket)")
    parser.add_argument("--rows", default="1,2,4,8", help="seeds per engine batch (the daemon's --max-batch is 8)")


def _numbers(text: str, kind, what: str, low, high) -> list:
    from motionbridge.daemon.cli import CliError

    try:
        values = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--{what} {text!r}: pass a comma list of numbers or 'all'") from None
    if not values or any(not low < v <= high for v in values):
        raise CliError(f"--{what} {text!r}: each value must be in ({low}, {high}]")
    return values


def shapes(fast, pipeline, durations: Iterable[float], text_tokens: Iterable[int], rows: Iterable[int]) -> list[tuple[float, int, int]]:
    """(duration, prompt tokens, seeds) per distinct bucket shape, shortest and smallest first."""
    from motionbridge.daemon.engine.fast.sampler import bucket_up
    from motionbridge.daemon.model.sampling import num_frames

    seen, out = set(), []
    for d in sorted(durations):
        frames = bucket_up(num_frames(d, pipeline.output_mesh_fps, pipeline.train_frames), fast.frame_buckets)
        for t in sorted(text_tokens):
            for r in sorted(rows):
                key = (frames, bucket_up(t, fast.text_buckets), bucket_up(r, fast.row_buckets))
                if key not in seen:
                    seen.add(key)
                    out.append((d, t, r))
    return out


def warm_shapes(engine, todo: list[tuple[float, int, int]], out: TextIO = sys.stderr) -> dict:
    """Compiles each shape in turn with a progress bar on `out`; returns counts and seconds.
    A shape that fails to compile is reported and skipped (a daemon serves it uncompiled)."""
    from motionbridge.daemon.engine.compile.shape_compiler import READY

    t0, failed = time.perf_counter(), []
    tty = out.isatty()
    for i, (d, tokens, rows) in enumerate(todo, 1):
        t = time.perf_counter()
        try:
            state = engine.precompile(d, tokens, rows, in_child=False)  # nothing is served meanwhile
        except Exception as exc:  # one shape's failure does not stop the rest
            state = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:200]
        if state != READY:
            failed.append({"duration_s": d, "text_tokens": tokens, "rows": rows, "state": state})
        done = int(30 * i / len(todo))
        line = (f"[{'#' * done}{'.' * (30 - done)}] {i}/{len(todo)} shapes  {d:g} s, {tokens} tokens, {rows} rows: "
                f"{time.perf_counter() - t:.1f} s{'  FAILED' if state != READY else ''}")
        out.write(("\r" + line + ("\n" if i == len(todo) else "")) if tty else line + "\n")
        out.flush()
    return {"shapes": len(todo), "failed": failed, "seconds": round(time.perf_counter() - t0, 1)}


def _engine(args):
    import torch

    from motionbridge.daemon.cli import CliError
    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.engine.kinds import resolve_dtype

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise CliError("--device cuda but CUDA is not available here; pass --device cpu")
    dtype = resolve_dtype("fast", args.device, args.dtype)
    base = FastConfig.for_device(args.device, dtype)
    # on the CPU the default config compiles nothing: compile the exact float32 path's blocks
    fast = base if base.compile_blocks else FastConfig(dtype=base.dtype, buckets=True, compile_blocks=True)
    if args.random:
        import dataclasses

        from motionbridge.daemon.bench.random_models import random_engine

        return random_engine(args.device, args.random, **dataclasses.asdict(fast))
    if args.parity:
        return FastEngine.from_parity(args.parity, fast, device=args.device)
    return FastEngine.from_dirs(args.checkpoint, args.qwen, args.clip, fast, device=args.device)


def run(args) -> int:
    import json

    from motionbridge.daemon.engine.compile.cache import use_compile_cache
    from motionbridge.daemon.engine.fast.sampler import DEFAULT_FRAME_BUCKETS, DEFAULT_TEXT_BUCKETS

    durations = [f / 30 for f in DEFAULT_FRAME_BUCKETS] if args.durations == "all" else _numbers(args.durations, float, "durations", 0, 12)
    tokens = list(DEFAULT_TEXT_BUCKETS) if args.text_tokens == "all" else _numbers(args.text_tokens, int, "text-tokens", 0, 128)
    rows = _numbers(args.rows, int, "rows", 0, 64)
    if not (args.random or args.parity or (args.checkpoint and args.qwen and args.clip)):
        from motionbridge.daemon.cli import CliError

        raise CliError("pass --checkpoint, --qwen and --clip (or --random 1.0|lite, or --parity DIR)")
    cache = use_compile_cache()
    engine = _engine(args)
    todo = shapes(engine.fast, engine.config.pipeline, durations, tokens, rows)
    print(f"compiling {len(todo)} shapes into {cache}", file=sys.stderr)
    result = warm_shapes(engine, todo)
    print(json.dumps(result))
    return 1 if result["failed"] else 0
