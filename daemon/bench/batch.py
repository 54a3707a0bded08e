"""Batch throughput: end-to-end takes/min (generate + retarget + export + preview) against
generation alone, on the same engine and the same takes.

    python -m motionbridge.daemon.bench.batch --checkpoint DIR --qwen DIR --clip DIR \\
        --takes 64 --duration 5 --format fbx,glb --rig mixamo --batch-size 8 --json result.json

Any engine the batch command accepts works (`--parity` for a CPU smoke run,
`--engine-factory MODULE:FUNC` for random-weight full-size models). The first engine call
is a warm-up and is not timed. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from motionbridge.daemon.batch.engines import EngineSpec
from motionbridge.daemon.batch.export_pool import default_workers
from motionbridge.daemon.batch.generation import EngineGenerator, windows
from motionbridge.daemon.batch.runner import BatchConfig, plan, run_local
from motionbridge.daemon.batch.takes import iter_takes
from motionbridge.daemon.engine.kinds import ENGINE_KINDS

PROMPTS = (
    "A person walks forward.", "A person jogs in a circle.", "A person jumps twice.",
    "A person waves with the right hand.", "A person sits down on a chair.", "A person kicks with the left leg.",
    "A person turns around and walks back.", "A person does a squat.",
)


def write_bench_takes(path: Path, count: int, duration_s: float, seeds_per_prompt: int) -> Path:
    with open(path, "w") as fh:
        for row in range(-(-count // seeds_per_prompt)):
            n = min(seeds_per_prompt, count - row * seeds_per_prompt)
            fh.write(json.dumps({"name": f"b{row:04d}", "prompt": PROMPTS[row % len(PROMPTS)], "duration": duration_s,
                                 "variations": n, "seed": row * seeds_per_prompt}) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motionbridge.daemon.bench.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=32, help="takes to time (default 32)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per take (default 5)")
    parser.add_argument("--seeds-per-prompt", type=int, default=4, help="takes sharing one prompt (default 4)")
    parser.add_argument("--batch-size", type=int, default=8, help="takes per engine call (default 8)")
    parser.add_argument("--format", default="fbx,glb", help="formats for the end-to-end run (default fbx,glb)")
    parser.add_argument("--rig", help="retarget onto this rig in the end-to-end run")
    parser.add_argument("--no-preview", action="store_true", help="leave the review GIFs out of the end-to-end run")
    parser.add_argument("--export-workers", type=int,
                        help="export processes beside the generator, as `batch --export-workers` (same default)")
    parser.add_argument("--out", type=Path, help="keep the end-to-end outputs here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--repeat", type=int, default=2, help="alternating timed runs of each; the best counts (default 2)")
    for flag in ("--checkpoint", "--qwen", "--clip", "--parity", "--engine-factory"):
        parser.add_argument(flag)
    parser.add_argument("--engine", default="fast", choices=ENGINE_KINDS)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    if args.export_workers is None:
        args.export_workers = default_workers(args.device)
    spec = EngineSpec(args.checkpoint, args.qwen, args.clip, args.parity, args.engine_factory, args.device, args.dtype, args.engine)

    with tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp:
        takes_file = write_bench_takes(Path(tmp) / "takes.jsonl", args.takes, args.duration, args.seeds_per_prompt)
        t0 = time.perf_counter()
        generator = EngineGenerator(spec.build())
        load_s = time.perf_counter() - t0
        all_takes = list(iter_takes(takes_file))
        generator.generate(all_takes[: args.batch_size])  # warm-up: kernels, allocator, caches

        gen_runs, e2e_runs = [], []
        for repeat in range(args.repeat):  # alternate the two, keep the best: shared machines are noisy
            gen_runs.append(_time_generation(generator, all_takes, args.batch_size, args.device))
            out = (args.out or Path(tmp) / "out") / f"run{repeat}"
            config = BatchConfig(takes_file, out, tuple(f.strip() for f in args.format.split(",")), args.rig,
                                 batch_size=args.batch_size, previews=not args.no_preview, export_workers=args.export_workers)
            t0 = time.perf_counter()
            result = run_local(plan(config), generator)
            _sync(args.device)
            e2e_runs.append(time.perf_counter() - t0)
            if result.failed:
                break
        stage_means = _stage_means(out)
        gen_s, e2e_s = min(gen_runs), min(e2e_runs)
        export_stages = {k: v for k, v in stage_means.items() if k.startswith(("retarget", "write_", "preview"))}

    report = {
        "engine": spec.describe(), "engine_kind": args.engine, "device": args.device, "dtype": args.dtype, "takes": args.takes,
        "duration_s": args.duration, "batch_size": args.batch_size, "formats": args.format, "rig": args.rig,
        "previews": not args.no_preview, "export_workers": args.export_workers, "engine_load_s": round(load_s, 2),
        "generation_only": {"seconds": round(gen_s, 3), "takes_per_min": round(60 * args.takes / gen_s, 2)},
        "end_to_end": {"seconds": round(e2e_s, 3), "takes_per_min": round(60 * args.takes / e2e_s, 2), "ok": result.ok, "failed": len(result.failed)},
        "end_to_end_over_generation": round(gen_s / e2e_s, 3),  # the target on a 16-core GPU host: >= 0.9
        "runs_s": {"generation_only": [round(x, 3) for x in gen_runs], "end_to_end": [round(x, 3) for x in e2e_runs]},
        "stage_mean_s": stage_means,
        "export_s_per_take": round(sum(export_stages.values()), 4),  # retarget + writes + preview, CPU
        "python": sys.version.split()[0],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if not result.failed else 1


def _time_generation(generator: EngineGenerator, all_takes: list, batch_size: int, device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for window in windows(iter(all_takes), batch_size):
        failed = [g.error for g in generator.generate(window) if g.clip is None]
        if failed:
            raise SystemExit(f"generation failed: {failed[0]}")
    _sync(device)
    return time.perf_counter() - t0


def _stage_means(out: Path) -> dict[str, float]:
    from motionbridge.daemon.batch.manifest import read_latest

    per_stage: dict[str, list[float]] = {}
    for entry in read_latest(out).values():
        for stage, seconds in entry.get("timings", {}).items():
            per_stage.setdefault(stage, []).append(float(seconds))
    return {k: round(statistics.fmean(v), 4) for k, v in sorted(per_stage.items())}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


if __name__ == "__main__":
    sys.exit(main())
