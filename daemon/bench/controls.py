"""`motionbridge bench --scenario controls`: directed takes measured on the CPU fixtures.

    motionbridge bench --scenario controls [--parity DIR] [--smooth DIR] [--steps 50] [--seeds 0,1] [--json F] [--table F]

Two parts, each on the parity fixture (random weights, its five dead std channels revived so
every channel can be constrained) and on the smooth fixture (tests/fixtures/smooth_model, a
tiny model trained on synthetic motion, daemon/controls/train_smooth_fixture.py):

- methods: one 2 s take starts in a walking pose (frame 30, 3 context frames) and ends in a
  squatting pose (frame 10): the worst constraint error after the full decode at those frames
  (joint position, cm; local rotation, degrees) and the sampling time against a plain take,
  for replacement inpainting, reconstruction guidance and both;
- seams (daemon/controls/scenarios.py): each control's seam velocity and acceleration over
  the clip's own p95, ours and the naive way, the constraint error and foot skate against
  the free take of the same seed (and whether it is within seams.SKATE_TOLERANCE of it). Random weights make noise: their seam figures say nothing
  about motion and are reported for completeness only.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

SMOOTH_DEFAULT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "smooth_model"
METHODS = {
    "plain (no constraint)": (False, 0.0),
    "replacement": (True, 0.0),
    "guidance w=0.1": (False, 0.1),
    "guidance w=1": (False, 1.0),
    "replacement + guidance w=0.1": (True, 0.1),
}


def fixture_engines(parity: Path, smooth: Path | None, steps: int | None = None) -> dict:
    """name -> ReferenceEngine: the parity fixture (dead channels revived) and the smooth one."""
    from motionbridge.daemon.engine.reference import ReferenceEngine

    te = parity / "text_encoders"
    engines = {"parity (random weights)": ReferenceEngine.from_parity(parity)}
    std = engines["parity (random weights)"].pipeline.model.get_buffer("std")
    std[std < 1e-3] = 1.0
    if smooth is not None:
        engines["smooth (trained fixture)"] = ReferenceEngine.from_dirs(smooth, te / "qwen3", te / "clip")
    if steps is not None:
        for engine in engines.values():
            pipe = engine.pipeline
            pipe.config = dataclasses.replace(pipe.config, pipeline=dataclasses.replace(pipe.config.pipeline, validation_steps=steps))
    return engines


def methods(engine, seeds: tuple[int, ...]) -> list[dict]:
    from motionbridge.daemon.controls import generate as G
    from motionbridge.daemon.controls import spec
    from motionbridge.daemon.controls.seams import pose_errors
    from motionbridge.daemon.model import constraints as C
    from motionbridge.daemon.model import sampling
    from motionbridge.daemon.tracks import clip_from_rotations
    from motionbridge.rigs.synthetic import MOTIONS

    pipe = engine.pipeline
    walk, squat = MOTIONS["walking"](), MOTIONS["squatting"]()
    controls = spec.Controls(start=spec.start_poses(walk, 30, Path("walk")), end=spec.end_poses(squat, 10, Path("squat")))
    features = pipe.encode_text(["A person walks, then squats."])
    lay, _ = spec.layout(controls, pipe.frames_for(2.0), pipe.config.pipeline.train_frames)
    mean64, std64 = (pipe.model.get_buffer(k).double().numpy() for k in ("mean", "std"))
    imp = G.imposed(controls, lay, mean64, std64)
    cond = pipe.conditioning(features, lay.latent_frames, 5.0)
    grid = sampling.time_grid(pipe.config.pipeline.validation_steps)
    rows = []
    for name, (replace, weight) in METHODS.items():
        worst, seconds = [0.0, 0.0], 0.0
        for seed in seeds:
            velocity = pipe.velocity(cond)
            if weight:
                velocity = C.reconstruction_guidance(velocity, imp.known, weight)
            project = C.projection(imp.known) if replace else None
            t0 = time.perf_counter()
            with torch.no_grad():
                latent = sampling.euler(velocity, pipe.noise([seed]), grid, None, project)[:, : lay.latent_frames]
            seconds += time.perf_counter() - t0
            decoded = G.decode_directed(pipe, latent, imp)
            crop = slice(lay.offset, lay.offset + lay.frames)
            take = clip_from_rotations(decoded.rotations()[0, crop].double().numpy(), decoded.transl[0, crop].double().numpy())
            for t_frame, src, s_frame in ((0, walk, 30), (lay.frames - 1, squat, 10)):
                cm, deg = pose_errors(take, t_frame, src, s_frame)
                worst = [max(worst[0], cm), max(worst[1], deg)]
        rows.append({"method": name, "worst_cm": worst[0], "worst_deg": worst[1], "sample_s": seconds / len(seeds)})
    for r in rows:
        r["cost_x_plain"] = r["sample_s"] / rows[0]["sample_s"]
    return rows


def seams(engine, seeds: tuple[int, ...]) -> list[dict]:
    from motionbridge.daemon.controls import scenarios
    from motionbridge.daemon.controls.seams import skate_no_worse

    rows = []
    for m in scenarios.measure(engine, seeds):
        rows.append({"control": m.control, "seed": m.seed, "ours_velocity": m.ours[0], "ours_acceleration": m.ours[1],
                     "naive_velocity": m.naive[0], "naive_acceleration": m.naive[1],
                     "error_cm": None if m.error is None else m.error[0], "error_deg": None if m.error is None else m.error[1],
                     "skate_cm_s": None if m.skate is None else m.skate[0], "free_skate_cm_s": None if m.skate is None else m.skate[1],
                     "skate_no_worse": None if m.skate is None else skate_no_worse(*m.skate)})
    return rows


def run(parity: Path, smooth: Path | None, seeds: tuple[int, ...], steps: int | None = None) -> dict:
    date = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    result = {"date": date, "seeds": list(seeds), "torch": torch.__version__, "fixtures": {}}
    for name, engine in fixture_engines(parity, smooth, steps).items():
        result["steps"] = engine.pipeline.config.pipeline.validation_steps
        result["fixtures"][name] = {"methods": methods(engine, seeds), "seams": seams(engine, seeds)}
    return result


def _g(v) -> str:
    return "-" if v is None else f"{v:.3g}"


def _yes_no(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


def table(result: dict) -> str:
    lines = [f"controls bench, {result['steps']} Euler steps, seeds {result['seeds']}"]
    for name, parts in result["fixtures"].items():
        lines += ["", f"### {name}: methods", "",
                  "| method | worst joint error (cm) | worst rotation error (deg) | sampling (s) | cost vs plain |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r['method']} | {_g(r['worst_cm'])} | {_g(r['worst_deg'])} | {r['sample_s']:.3f} | {r['cost_x_plain']:.2f}x |"
                  for r in parts["methods"]]
        lines += ["", f"### {name}: seams (velocity / acceleration over the clip's p95)", "",
                  "| control | seed | ours | naive | error (cm / deg) | skate ours / free (cm/s) | skate no worse (15%) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in parts["seams"]:
            lines.append(f"| {r['control']} | {r['seed']} | {r['ours_velocity']:.2f} / {r['ours_acceleration']:.2f} | "
                         f"{r['naive_velocity']:.2f} / {r['naive_acceleration']:.2f} | {_g(r['error_cm'])} / {_g(r['error_deg'])} | "
                         f"{_g(r['skate_cm_s'])} / {_g(r['free_skate_cm_s'])} | {_yes_no(r['skate_no_worse'])} |")
    return "\n".join(lines)



def main() -> None:
    import argparse

    default = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
    parser = argparse.ArgumentParser(description="directed takes on the CPU fixtures (same as `motionbridge bench --scenario controls`)")
    parser.add_argument("--parity", type=Path, default=default)
    parser.add_argument("--smooth", type=Path, default=SMOOTH_DEFAULT)
    parser.add_argument("--seeds", default="0,1", help="comma list")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(table(run(args.parity, args.smooth, tuple(int(s) for s in args.seeds.split(",")))))


if __name__ == "__main__":
    main()
