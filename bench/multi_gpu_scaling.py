"""Multi-GPU scaling through the daemon: clips per minute of `motionbridge serve` with one worker
(`--device cuda:0`) against one worker per GPU (`--device cuda`), the same requests sent at once.

Each daemon serves random weights of the real shapes with real-shape random text encoders
(daemon/bench/random_models.py: random_text_engine) and starts on an empty compile cache. A
first, untimed round of the requests compiles and captures every batch shape (requests wait for
their shape's compile: compile_wait_ms), the second round is timed. Requests are spread over
the workers by the daemon's own scheduler, as they are for users.

Run on the device from the repo root (after `source bench/device_env.sh`):
    python3 bench/multi_gpu_scaling.py [--model 1.0] [--requests 16] [--seeds 16]
JSON to $OUT/multi_gpu_scaling.json. To check the script on the CPU (worker processes instead of
GPUs): --device cpu --workers 2 --model tiny-random --steps 2 --requests 4 --seeds 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from motionbridge.daemon.bench.daemon_mixed import Daemon

PROMPT = "A person walks forward, then turns left and waves."


def _all_ready(daemon: Daemon, workers: int, timeout_s: float = 1800) -> float:
    """Seconds until `workers` workers report ready (Daemon waits for the first one only)."""
    t0 = time.perf_counter()
    while True:
        ready = sum(bool(w["ready"]) for w in daemon.client.status(timeout_s=5.0)["workers"])
        if ready >= workers:
            return time.perf_counter() - t0
        if daemon.proc.poll() is not None or time.perf_counter() - t0 > timeout_s:
            raise RuntimeError(f"{ready} of {workers} workers ready; see the serve log")
        time.sleep(0.5)


def _round(daemon: Daemon, requests: int, seeds: int, duration_s: float, seed0: int) -> dict:
    t0 = time.perf_counter()
    handles = [daemon.client.generate(f"{PROMPT} ({i})", duration_s=duration_s, seeds=range(seed0 + i * seeds, seed0 + (i + 1) * seeds))
               for i in range(requests)]
    takes = sum(len(h.wait(3600)) for h in handles)
    wall = time.perf_counter() - t0
    if takes != requests * seeds:
        raise RuntimeError(f"{takes} takes for {requests * seeds} seeds")
    return {"takes": takes, "wall_s": round(wall, 2), "clips_per_min": round(takes / wall * 60, 1)}


def measure(device: str, workers: int, args, out: Path) -> dict:
    options = {"model": args.model, "compile_wait_ms": "3600000", **({"steps": str(args.steps)} if args.steps else {})}
    serve_args = ("--max-batch", str(args.seeds)) + (("--workers", str(workers)) if device == "cpu" else ())
    home = Path(tempfile.mkdtemp(prefix="mb-scaling-home-"))
    t0 = time.perf_counter()
    daemon = Daemon(home, device, options, out / f"multi_gpu_scaling-{workers}.log", serve_args=serve_args)
    try:
        ready_s = _all_ready(daemon, workers) + daemon.ready_s
        warm = _round(daemon, args.requests, args.seeds, args.duration, 0)
        timed = _round(daemon, args.requests, args.seeds, args.duration, 100_000)
    finally:
        daemon.stop()
    return {"workers": workers, "device": device, "ready_s": round(ready_s, 1), "warm_round": warm, **timed,
            "run_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="1.0", help="1.0, lite or tiny-random")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--workers", type=int, default=None, help="CPU only: worker processes of the second daemon (default 2)")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=16, help="seeds per request, also the daemon's --max-batch")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--steps", type=int, default=None, help="Euler steps (default: the model's 50)")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", "/tmp/out"))
    out.mkdir(parents=True, exist_ok=True)
    if args.device == "cuda":
        import torch

        gpus, card = torch.cuda.device_count(), torch.cuda.get_device_name(0)
        if gpus < 2:
            raise SystemExit(f"one GPU here ({card}): scaling needs two or more")
        runs = [("cuda:0", 1), ("cuda", gpus)]
    else:
        gpus, card = args.workers or 2, "cpu"
        runs = [("cpu", 1), ("cpu", gpus)]
    result: dict = {"model": args.model, "card": card, "gpus_on_host": gpus if args.device == "cuda" else 0,
                    "requests": args.requests, "seeds_per_request": args.seeds, "duration_s": args.duration, "runs": {}}
    for device, workers in runs:
        print(f"serve --device {device}: {workers} worker(s)", flush=True)
        result["runs"][str(workers)] = measure(device, workers, args, out)
        print(json.dumps(result["runs"][str(workers)]), flush=True)
        (out / "multi_gpu_scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    one, many = result["runs"]["1"]["clips_per_min"], result["runs"][str(runs[-1][1])]["clips_per_min"]
    result["scaling"] = round(many / one, 3)
    result["efficiency"] = round(many / one / runs[-1][1], 3)
    (out / "multi_gpu_scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{one} -> {many} clips/min: {result['scaling']}x", flush=True)


if __name__ == "__main__":
    main()
