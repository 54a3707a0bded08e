"""One preview GIF per directing control, for the docs (daemon/controls/README.md): each control
run on a model as an animator would use it, drawn like the batch review's previews.

    python -m motionbridge.daemon.bench.control_gifs --model tests/fixtures/smooth_model --out docs/controls

| GIF | what it shows |
| --- | --- |
| start.gif | take A, then take B started from A's last frames (--start-from), played as one |
| inbetween.gif | a take from A's last pose to B's first (--start-from and --end-at), between A and B |
| keys.gif | a take passing through two poses of another take at 1/3 and 2/3 (--keys) |
| loop.gif | a --loop take played twice, the second moved by its recorded travel |
| extend.gif | a take 2.5 model windows long with a prompt change (--extend, --prompt-at) |
| regenerate.gif | a take whose middle third is made anew with another seed (--regenerate) |
| path.gif | the pelvis following a straight ground path (--path) |
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from motionbridge.rigs import Clip

WALK = "A person walks forward."
TURN = "A person turns around."
SQUAT = "A person squats down and stands up."
CONTROLS = ("start", "inbetween", "keys", "loop", "extend", "regenerate", "path")


def _joined(*clips: Clip) -> Clip:
    """Clips played one after another as one clip (same skeleton and rate)."""
    first = clips[0]
    return first.replace(rotations=np.concatenate([c.rotations for c in clips]),
                         root_translation=np.concatenate([c.root_translation for c in clips]))


def control_clips(engine, seed: int = 0, controls: tuple[str, ...] = CONTROLS) -> dict[str, Clip]:
    """control -> the clip its GIF draws, made on `engine` (a ReferenceEngine)."""
    from motionbridge.daemon.controls import spec
    from motionbridge.daemon.controls.extend import generate_extended
    from motionbridge.daemon.controls.generate import generate
    from motionbridge.daemon.controls.scenarios import tiled
    from motionbridge.daemon.engine.api import GenerationRequest
    from motionbridge.daemon.model.encode import model_pose

    window = engine.pipeline.config.pipeline.train_frames
    sec = min(3.0, 0.75 * window / 30)

    def take(prompt: str, s: int, controls_: spec.Controls | None = None, seconds: float = sec) -> Clip:
        return generate(engine, GenerationRequest(prompt, seconds, (s,), 5.0), controls_ or spec.Controls())[0].clip

    out: dict[str, Clip] = {}
    a = take(WALK, seed)
    if "start" in controls:
        out["start"] = _joined(a, take(TURN, seed + 1, spec.Controls(start=spec.start_poses(a, None, Path("a")))))
    if "inbetween" in controls:
        b = take(SQUAT, seed + 2)
        middle = take(TURN, seed + 3, spec.Controls(start=spec.start_poses(a, None, Path("a")), end=spec.end_poses(b, None, Path("b"))))
        out["inbetween"] = _joined(a, middle, b)
    if "keys" in controls:
        source = take(SQUAT, seed + 4)
        n = source.num_frames
        frames = (n // 3, 2 * n // 3)
        rot, transl = model_pose(source)
        out["keys"] = take(WALK, seed, spec.Controls(keys=spec.Poses(rot[list(frames)], transl[list(frames)]), key_frames=frames))
    if "loop" in controls:
        cycle = generate(engine, GenerationRequest(WALK, sec, (seed,), 5.0), spec.Controls(loop=True))[0].clip
        out["loop"] = _joined(cycle, tiled(cycle, cycle.metadata["constraints"]["loop"]["travel_xz_m"]))
    if "extend" in controls:
        frames = window * 5 // 2
        req = GenerationRequest(WALK, frames / 30, (seed,), 5.0)
        out["extend"] = generate_extended(engine, req, frames, ((0, WALK), (frames * 3 // 5, SQUAT)))[0].clip
    if "regenerate" in controls:
        n = a.num_frames
        poses, span = spec.regenerate_poses(a, f"{n // 3}:{2 * n // 3 - 1}", Path("a"))
        out["regenerate"] = take(WALK, seed + 5, spec.Controls(source=poses, span=span))
    if "path" in controls:
        points = np.array([[0.0, 0.0, 0.0], [round(sec * 30) - 1, 1.5, 1.0]])  # (frame, x, z): 1.8 m diagonally, to the last frame
        out["path"] = take(WALK, seed, spec.Controls(path=points, path_record={"points": 2}))
    return out


def write_gifs(engine, out_dir: Path, seed: int = 0, controls: tuple[str, ...] = CONTROLS) -> dict[str, Path]:
    from motionbridge.daemon.batch.preview import PreviewConfig, render_gif

    out_dir.mkdir(parents=True, exist_ok=True)
    config = PreviewConfig(size=200, max_frames=90)
    return {name: render_gif(clip, out_dir / f"{name}.gif", config) for name, clip in control_clips(engine, seed, controls).items()}


def main(argv: list[str] | None = None) -> int:
    from motionbridge.daemon.engine.reference import ReferenceEngine

    parser = argparse.ArgumentParser(prog="python -m motionbridge.daemon.bench.control_gifs", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder (config.yml + weights), e.g. tests/fixtures/smooth_model")
    parser.add_argument("--text-encoders", type=Path, default=Path("../shared/parity/text_encoders"), help="folder with qwen3/ and clip/")
    parser.add_argument("--out", type=Path, default=Path("docs/controls"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="fewer Euler steps (smoke runs)")
    args = parser.parse_args(argv)
    engine = ReferenceEngine.from_dirs(args.model, args.text_encoders / "qwen3", args.text_encoders / "clip")
    if args.steps is not None:
        pipe = engine.pipeline
        pipe.config = dataclasses.replace(pipe.config, pipeline=dataclasses.replace(pipe.config.pipeline, validation_steps=args.steps))
    for name, path in write_gifs(engine, args.out, args.seed).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
