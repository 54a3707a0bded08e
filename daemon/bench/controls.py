"""Replacement inpainting vs reconstruction guidance, measured on the parity fixture (CPU).

    python -m motionbridge.daemon.bench.controls [--parity DIR] [--seeds 0 1]

One 2 s take starts in a walking pose (frame 30, 3 context frames) and ends in a squatting
pose (frame 10): the constraint error after the full decode at those frames (worst joint
position, cm; worst local rotation, degrees) and the sampling time against a plain take.
Random weights: this measures adherence and cost, not how natural the motion is. The
fixture's five dead std channels are revived (std 1) so every channel can be constrained.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from motionbridge.rigs import Clip, quat


def pose_errors(take: Clip, t_frame: int, source: Clip, s_frame: int, joints=range(22)) -> tuple[float, float]:
    """(cm, deg): worst world joint position and local rotation difference over `joints`."""
    joints = list(joints)
    _, p_take = take.world()
    _, p_src = source.world()
    cm = float(np.abs(p_take[t_frame, joints] - p_src[s_frame, joints]).max()) * 100
    dot = np.abs(np.sum(quat.normalize(take.rotations[t_frame, joints]) * quat.normalize(source.rotations[s_frame, joints]), -1))
    return cm, float(np.degrees(2 * np.arccos(np.clip(dot, 0, 1))).max())


def run(parity: Path, seeds: tuple[int, ...]) -> list[dict]:
    from motionbridge.daemon.controls import generate as G
    from motionbridge.daemon.controls import spec
    from motionbridge.daemon.engine.reference import ReferenceEngine
    from motionbridge.daemon.model import constraints as C
    from motionbridge.daemon.model import sampling
    from motionbridge.daemon.tracks import clip_from_rotations
    from motionbridge.rigs.synthetic import MOTIONS

    pipe = ReferenceEngine.from_parity(parity).pipeline
    std = pipe.model.get_buffer("std")
    std[std < 1e-3] = 1.0
    walk, squat = MOTIONS["walking"](), MOTIONS["squatting"]()
    controls = spec.Controls(start=spec.start_poses(walk, 30, Path("walk")), end=spec.end_poses(squat, 10, Path("squat")))
    features = pipe.encode_text(["A person walks, then squats."])
    lay, _ = spec.layout(controls, pipe.frames_for(2.0), pipe.config.pipeline.train_frames)
    mean64, std64 = pipe.model.get_buffer("mean").double().numpy(), std.double().numpy()
    imp = G.imposed(controls, lay, mean64, std64)
    cond = pipe.conditioning(features, lay.latent_frames, 5.0)
    grid = sampling.time_grid(pipe.config.pipeline.validation_steps)
    methods = {
        "plain (no constraint)": (None, 0.0),
        "replacement": ("replace", 0.0),
        "guidance w=0.1": (None, 0.1),
        "guidance w=1": (None, 1.0),
        "replacement + guidance w=0.1": ("replace", 0.1),
    }
    rows = []
    for name, (replace, weight) in methods.items():
        worst, seconds = [0.0, 0.0], 0.0
        for seed in seeds:
            noise = pipe.noise([seed])
            velocity = pipe.velocity(cond)
            if weight:
                velocity = C.reconstruction_guidance(velocity, imp.known, weight)
            project = C.projection(imp.known) if replace else None
            t0 = time.perf_counter()
            with torch.no_grad():
                latent = sampling.euler(velocity, noise, grid, None, project)[:, : lay.latent_frames]
            seconds += time.perf_counter() - t0
            decoded = G.decode_directed(pipe, latent, imp)
            crop = slice(lay.offset, lay.offset + lay.frames)
            take = clip_from_rotations(decoded.rotations()[0, crop].double().numpy(), decoded.transl[0, crop].double().numpy())
            for t_frame, src, s_frame in ((0, walk, 30), (lay.frames - 1, squat, 10)):
                cm, deg = pose_errors(take, t_frame, src, s_frame)
                worst = [max(worst[0], cm), max(worst[1], deg)]
        rows.append({"method": name, "worst_cm": worst[0], "worst_deg": worst[1], "sample_s": seconds / len(seeds)})
    plain = rows[0]["sample_s"]
    for r in rows:
        r["cost_x_plain"] = r["sample_s"] / plain
    return rows


def main() -> None:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parity", type=Path, default=default)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| method | worst joint error (cm) | worst rotation error (deg) | sampling (s) | cost vs plain |")
    print("| --- | --- | --- | --- | --- |")
    for r in run(args.parity, tuple(args.seeds)):
        print(f"| {r['method']} | {r['worst_cm']:.3g} | {r['worst_deg']:.3g} | {r['sample_s']:.2f} | {r['cost_x_plain']:.2f}x |")


if __name__ == "__main__":
    main()
