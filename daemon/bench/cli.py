"""`motionbridge bench`: latency, throughput, memory and deviation of the fast engine, with our
float32 reference path (360 frames, no trimming, like the official code) measured in the same
run as the baseline.

CPU: the parity fixture's tiny model (CI smoke). CUDA: the real 1.0B / Lite shapes and a
Qwen3-8B / CLIP-L text encoder of the real shapes, all with random weights.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import time
from pathlib import Path

import torch

HELP = "benchmark the engine (latency, clips/min, VRAM, deviation from the float32 reference)"


def add_arguments(parser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--models", default=None, help="comma list: tiny (CPU default), 1.0, lite (CUDA default), tiny-random")
    parser.add_argument("--parity", default=None, help="parity fixture folder (tiny model, tokenizers); default ../shared/parity")
    parser.add_argument("--steps", type=int, default=50, help="Euler steps (50 like the official sampler)")
    parser.add_argument("--durations", default="2,5,10", help="latency clip lengths in seconds")
    parser.add_argument("--batches", default="1,8,32,64", help="throughput batch sizes (seeds per call)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-batch", type=int, default=8, help="batch for the reference throughput")
    parser.add_argument("--modes", default=None, help="comma list of fast modes (default: all for the device)")
    parser.add_argument("--json", default=None, help="write the results here (JSON)")
    parser.add_argument("--table", default=None, help="write the human-readable table here (Markdown)")
    parser.add_argument("--scenario", choices=("engine", "daemon-mixed", "daemon-overhead", "controls"), default="engine",
                        help="engine: the in-process figures above; daemon-mixed: a real `serve` and a client's mixed requests "
                             "(daemon_mixed.py); daemon-overhead: one repeated take through a real `serve` and in-process, "
                             "side by side (daemon_overhead.py); controls: directed takes (constraint error, seams, cost) on the CPU fixtures")
    parser.add_argument("--smooth", default=None,
                        help="controls: the smooth fixture folder (default tests/fixtures/smooth_model; 'none': skip it)")
    parser.add_argument("--seeds", default="0,1", help="controls: comma list of seeds")
    parser.add_argument("--requests", type=int, default=24, help="daemon-mixed: requests in the mix")
    parser.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="daemon-mixed, daemon-overhead: a FastConfig field for the served engine (e.g. compile_dynamic=true), "
                             "or an option of --engine-factory's function")
    parser.add_argument("--takes", type=int, default=40, help="daemon-overhead: takes each way (median of these)")
    parser.add_argument("--engine-factory", default=None, metavar="MODULE:FUNCTION",
                        help="daemon-overhead: the engine served and run in-process (default: the random engine of the real "
                             "shapes on CUDA, the tiny one on the CPU); importable by this process and by `serve`")
    parser.add_argument("--settle-s", type=float, default=0.0, metavar="SECONDS",
                        help="daemon-mixed: after ready, wait up to this long for the background compiles to finish before "
                             "the mix (STATUS `compiles`; default 0: send the mix at once)")
    parser.add_argument("--serve-warm-up", default="5", metavar="SECONDS|all",
                        help="daemon-mixed: serve's --warm-up (default 5: one 5 s shape; 'all': every shape before ready)")


def run(args) -> int:
    from motionbridge.daemon.bench.report import table
    from motionbridge.daemon.bench.suite import ModelBench
    from motionbridge.daemon.cli import CliError

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda but CUDA is not available here; use --device cpu")
    if args.scenario == "daemon-mixed":
        from motionbridge.daemon.bench import daemon_mixed

        if args.requests < 1 or args.settle_s < 0 or any("=" not in o for o in args.engine_option):
            raise CliError("--requests must be >= 1, --settle-s >= 0 and each --engine-option KEY=VALUE")
        return daemon_mixed.run(args)
    if args.scenario == "daemon-overhead":
        from motionbridge.daemon.bench import daemon_overhead

        if args.takes < 1 or any("=" not in o for o in args.engine_option):
            raise CliError("--takes must be >= 1 and each --engine-option KEY=VALUE")
        if args.engine_factory is not None and ":" not in args.engine_factory:
            raise CliError(f"--engine-factory {args.engine_factory!r}: pass module:function")
        return daemon_overhead.run(args)
    if args.scenario == "controls":
        return _controls(args, device)
    parity = _parity_dir(args)
    if not (parity / "cases.json").is_file():
        raise CliError(f"parity fixture not found at {parity}; pass --parity")
    models = (args.models or ("tiny" if device.type == "cpu" else "1.0,lite")).split(",")
    if args.steps < 1 or args.repeats < 1:
        raise CliError("--steps and --repeats must be >= 1")
    from motionbridge.daemon.bench.suite import MODES

    unknown = [m for m in (args.modes or "").split(",") if m and m not in MODES]
    if unknown:
        raise CliError(f"unknown mode {unknown[0]!r}; pass some of {', '.join(MODES)}")
    torch.backends.cuda.matmul.allow_tf32 = False  # the float32 reference must be float32
    torch.backends.cudnn.allow_tf32 = False
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "steps": args.steps,
        "cfg": 5.0,
        "weights": "parity fixture (tiny)" if device.type == "cpu" else "random, real shapes",
        "models": {},
    }
    for name in models:
        bench = ModelBench(name.strip(), device, parity, args)
        result["models"][name] = bench.run()
        del bench
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return _emit(args, result, table(result))


def _parity_dir(args) -> Path:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
    return Path(args.parity or os.environ.get("MOTIONBRIDGE_PARITY_DIR") or default)


def _controls(args, device) -> int:
    from motionbridge.daemon.bench import controls
    from motionbridge.daemon.cli import CliError

    if device.type != "cpu":
        raise CliError("--scenario controls runs on the CPU fixtures; pass --device cpu")
    parity = _parity_dir(args)
    smooth = None if args.smooth == "none" else Path(args.smooth) if args.smooth else controls.SMOOTH_DEFAULT
    if not (parity / "cases.json").is_file():
        raise CliError(f"parity fixture not found at {parity}; pass --parity")
    if smooth is not None and not (smooth / "config.yml").is_file():
        raise CliError(f"smooth fixture not found at {smooth}; pass --smooth DIR or --smooth none")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        raise CliError(f"--seeds {args.seeds!r}: give a comma list of integers, e.g. 0,1") from None
    if args.steps < 1:
        raise CliError("--steps must be >= 1")
    result = controls.run(parity, smooth, seeds, args.steps)
    return _emit(args, result, controls.table(result))


def _emit(args, result: dict, text: str) -> int:
    """Prints the table, and writes the JSON and the table where --json and --table say."""
    print(text)
    if args.json:
        _write(Path(args.json), json.dumps(result, indent=2))
    if args.table:
        _write(Path(args.table), text)
    return 0


def _write(path: Path, text: str) -> None:
    from motionbridge.exporters.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
