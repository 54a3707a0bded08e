"""Benchmark: write a long take set in every format (not a timed test; prints seconds).

    python -m motionbridge.daemon.bench.exporters [--seconds 60] [--fps 60] [--takes 3] [--out DIR]

Each file holds all takes (BVH/AMASS: the first take only, as they hold one). The default
is the issue's large case: three 60 s takes at 60 fps on the 55-joint SMPL-X skeleton.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionbridge.exporters import registry
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import smplx_skeleton

EXTENSIONS = (".fbx", ".glb", ".gltf", ".bvh", ".usdc", ".usda", ".npz", ".amass.npz")
SINGLE_TAKE = (".bvh", ".amass.npz")


@dataclass
class BenchConfig:
    seconds: float = 60.0
    fps: float = 60.0
    takes: int = 3
    seed: int = 0


def synthetic_takes(cfg: BenchConfig) -> list[Clip]:
    """Smooth random motion (sums of sinusoids per joint axis) with a wandering root."""
    skel = smplx_skeleton()
    frames = int(round(cfg.seconds * cfg.fps))
    t = np.arange(frames)[:, None, None] / cfg.fps
    clips = []
    for k in range(cfg.takes):
        rng = np.random.default_rng(cfg.seed + k)
        amp, freq, phase = rng.uniform(0.1, 0.6, (3, 1, skel.num_joints, 3))
        aa = amp * np.sin(2 * np.pi * (freq + 0.2) * t + 6.0 * phase)
        root = skel.rest_translations[0] + np.stack([np.sin(t[:, 0, 0] * 0.3), 0.03 * np.sin(t[:, 0, 0] * 5), 0.5 * t[:, 0, 0]], -1)
        meta = {"prompt": f"benchmark take {k}", "seed": cfg.seed + k, "model": "synthetic"}
        clips.append(Clip(skel, quat.from_axis_angle(aa), root, cfg.fps, meta))
    return clips


def run_bench(cfg: BenchConfig, out_dir: Path, extensions: tuple[str, ...] = EXTENSIONS) -> dict[str, dict[str, float]]:
    """Wall seconds, CPU seconds (this process; steadier on a shared machine) and megabytes per format."""
    takes = synthetic_takes(cfg)
    names = [f"take{k + 1}" for k in range(cfg.takes)]
    results: dict[str, dict[str, float]] = {}
    for ext in extensions:
        group = takes[:1] if ext in SINGLE_TAKE else takes
        path = out_dir / f"bench{ext}"
        start, cpu = time.perf_counter(), time.process_time()
        registry.write(path, group, names[: len(group)])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        results[ext] = {"seconds": seconds, "cpu_seconds": cpu, "megabytes": path.stat().st_size / 1e6, "takes": len(group)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=BenchConfig.seconds)
    parser.add_argument("--fps", type=float, default=BenchConfig.fps)
    parser.add_argument("--takes", type=int, default=BenchConfig.takes)
    parser.add_argument("--out", type=Path, help="keep the files here (default: a temp folder)")
    parser.add_argument("--formats", nargs="*", default=list(EXTENSIONS))
    a = parser.parse_args(argv)
    cfg = BenchConfig(a.seconds, a.fps, a.takes)
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        results = run_bench(cfg, out, tuple(a.formats))
    print(f"{cfg.takes} takes x {cfg.seconds:g} s @ {cfg.fps:g} fps, 55 joints")
    for ext, r in results.items():
        print(f"  {ext:11s} {r['seconds']:7.3f} s wall  {r['cpu_seconds']:7.3f} s cpu  {r['megabytes']:8.2f} MB  "
              f"({r['takes']:.0f} take(s))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
