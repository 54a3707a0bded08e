"""Micro-benchmark: retarget a 10 s, 30 fps take onto a 70-bone rig on one CPU core.

    python -m motionbridge.daemon.bench.rigs [--runs 30] [--cpu 0]

Not a timed test: prints median and best wall and thread-CPU times (ms) as JSON. The rig is the UE4
Mannequin (68 bones) plus two weapon bones, in an A-pose with Blender-style bone axes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time

import numpy as np

from motionbridge.rigs.description import preset
from motionbridge.rigs.detect import detect_rig
from motionbridge.rigs.humanoid import build_rig
from motionbridge.rigs.retarget import RetargetOptions, retarget
from motionbridge.rigs.synthetic import walking


def seventy_bone_rig():
    desc = preset("ue4_mannequin")
    extra = {**desc.extra, "weapon_r": {"parent": "hand_r", "at": "same"}, "weapon_l": {"parent": "hand_l", "at": "same"}}
    return build_rig(dataclasses.replace(desc, extra=extra), pose="A", bone_axes="y_along_bone", up_axis="z", units="cm")


def time_ms(fn, runs: int) -> dict[str, float]:
    """Wall time, and this thread's CPU time (which a busy shared machine inflates far less)."""
    fn()  # warm caches (rest poses, levels)
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - c) * 1000.0)
        wall.append((time.perf_counter() - w) * 1000.0)
    return {
        "wall_median_ms": round(float(np.median(wall)), 2), "wall_best_ms": round(min(wall), 2),
        "cpu_median_ms": round(float(np.median(cpu)), 2), "cpu_best_ms": round(min(cpu), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core (Linux)")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    clip = walking(seconds=10.0, fps=30.0)
    rig = seventy_bone_rig()
    mapping = detect_rig(rig).mapping
    source_mapping = preset("smplx").bind(clip.skeleton)
    report = {
        "frames": clip.num_frames,
        "target_bones": rig.num_joints,
        "cpu": platform.processor() or platform.machine(),
        "detect_rig": time_ms(lambda: detect_rig(rig), args.runs),
    }
    for label, opts in (("retarget", RetargetOptions()), ("retarget_foot_lock", RetargetOptions(foot_lock=True, ground=True))):
        report[label] = time_ms(lambda o=opts: retarget(clip, rig, mapping, o, source_mapping=source_mapping), args.runs)
    report["retarget_with_detection"] = time_ms(lambda: retarget(clip, rig), args.runs)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
