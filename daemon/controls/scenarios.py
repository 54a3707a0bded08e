"""Each directing control run on a model, with its seams, constraint error and foot skate, next
to the naive way of getting the same take (what a user would do without the control).

| control | ours | naive |
| --- | --- | --- |
| start | take B continues take A from A's last frames (--start-from) | B sampled free, appended to A |
| extend | one extended take, windows joined by handshakes | one free take per piece, concatenated |
| loop | a --loop take followed by itself moved by the recorded travel | a free take tiled the same way |
| keys | poses of another take imposed at 1/3 and 2/3 of the take (--keys) | those poses pasted into a free take |
| regenerate | its middle third redone with a new seed (--regenerate) | the new seed's frames spliced in |

Takes are 3 s (3/4 of the window on a model with a shorter one); an extended take is 2.5
windows with a prompt change at 3/5 of it.

Used by `motionbridge bench --scenario controls` and tests/daemon/controls/test_seams.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.model.encode import model_pose
from motionbridge.rigs import Clip

from . import spec
from .extend import generate_extended, pieces
from .generate import generate
from .seams import body_positions, pose_errors, skate_cm_s, spliced_skate, worst_seam

WALK = "A person walks forward."
SQUAT = "A person squats down and stands up."
CONTROLS = ("start", "extend", "loop", "keys", "regenerate")


@dataclass
class Measured:
    """One control on one seed: (velocity, acceleration) seam ratios, ours and naive; the worst
    constraint error at constrained frames (cm, degrees; None where nothing is pinned); foot
    skate of ours and of the free take of the same seed (cm/s; for regenerate, of the free
    takes of the seeds that made each frame: seams.spliced_skate)."""

    control: str
    seed: int
    ours: tuple[float, float]
    naive: tuple[float, float]
    error: tuple[float, float] | None = None
    skate: tuple[float, float] | None = None
    extra: dict = field(default_factory=dict)


def take_seconds(engine) -> float:
    """Takes of 3 s, or 3/4 of a shorter model window."""
    return min(3.0, 0.75 * engine.pipeline.config.pipeline.train_frames / 30)


def _take(engine, prompt: str, seconds: float, seed: int, controls: spec.Controls | None = None, cfg: float = 5.0) -> Clip:
    req = GenerationRequest(prompt, seconds, (seed,), cfg)
    return generate(engine, req, controls or spec.Controls())[0].clip


def _joined(*clips: Clip) -> np.ndarray:
    return np.concatenate([body_positions(c) for c in clips])


def start(engine, seed: int, cfg: float = 5.0) -> Measured:
    sec = take_seconds(engine)
    a = _take(engine, WALK, sec, seed, cfg=cfg)
    b = _take(engine, WALK, sec, seed + 100, spec.Controls(start=spec.start_poses(a, None, Path("a"))), cfg)
    free = _take(engine, WALK, sec, seed + 100, cfg=cfg)
    n = a.num_frames
    ours = worst_seam(np.concatenate([body_positions(a), body_positions(b)[1:]]), [n])
    naive = worst_seam(_joined(a, free), [n])
    return Measured("start", seed, ours, naive, pose_errors(b, 0, a, n - 1), (skate_cm_s(b), skate_cm_s(free)))


def extend(engine, seed: int, cfg: float = 5.0) -> Measured:
    window = engine.pipeline.config.pipeline.train_frames
    frames = window * 5 // 2  # joins within a prompt and at a prompt change
    timeline = ((0, WALK), (frames * 3 // 5, SQUAT))
    req = GenerationRequest(WALK, frames / 30, (seed,), cfg)
    take = generate_extended(engine, req, frames, timeline)[0].clip
    plan = pieces(frames, timeline, window)
    joins = [p.first for p in plan[1:]]
    free = [_take(engine, p.prompt, max(p.frames, 20) / 30, seed, cfg=cfg) for p in plan]
    naive = np.concatenate([body_positions(c)[: p.frames] for c, p in zip(free, plan)])
    ours_pos = body_positions(take)
    plain = _take(engine, WALK, plan[0].frames / 30, seed, cfg=cfg)
    skate = (skate_cm_s(take), float(np.mean([skate_cm_s(c) for c in free])))
    return Measured("extend", seed, worst_seam(ours_pos, joins), worst_seam(naive, joins), None, skate,
                    {"joins": joins, "first_window_skate": skate_cm_s(plain)})


def tiled(clip: Clip, travel_xz) -> Clip:
    """The loop's next repeat: `clip` moved by its recorded ground travel (x, z)."""
    shift = np.array([travel_xz[0], 0.0, travel_xz[1]])
    return clip.replace(root_translation=clip.root_translation + shift)


def loop(engine, seed: int, cfg: float = 5.0) -> Measured:
    sec = take_seconds(engine)
    took = generate(engine, GenerationRequest(WALK, sec, (seed,), cfg), spec.Controls(loop=True))[0]
    cyc = took.clip
    travel = took.clip.metadata["constraints"]["loop"]["travel_xz_m"]
    free = _take(engine, WALK, sec, seed, cfg=cfg)
    r = free.root_translation
    naive_travel = (r[-1] - r[0] + (r[-1] - r[-2]))[[0, 2]]  # the free take's own travel, one more step
    n = cyc.num_frames
    ours = worst_seam(_joined(cyc, tiled(cyc, travel)), [n])
    naive = worst_seam(_joined(free, tiled(free, naive_travel)), [n])
    return Measured("loop", seed, ours, naive, None, (skate_cm_s(cyc), skate_cm_s(free)))


def keys(engine, seed: int, cfg: float = 5.0) -> Measured:
    sec = take_seconds(engine)
    n = engine.pipeline.frames_for(sec)
    key_frames = (n // 3, 2 * n // 3)
    source = _take(engine, WALK, sec, seed + 200, cfg=cfg)
    rot, transl = model_pose(source)
    idx = list(key_frames)
    controls = spec.Controls(keys=spec.Poses(rot[idx], transl[idx]), key_frames=key_frames)
    take = _take(engine, WALK, sec, seed, controls, cfg)
    free = _take(engine, WALK, sec, seed, cfg=cfg)
    pasted = free.replace(rotations=free.rotations.copy(), root_translation=free.root_translation.copy())
    pasted.rotations[idx], pasted.root_translation[idx] = source.rotations[idx], source.root_translation[idx]
    errors = [pose_errors(take, f, source, f) for f in key_frames]
    return Measured("keys", seed, worst_seam(body_positions(take), key_frames), worst_seam(body_positions(pasted), key_frames),
                    (max(e[0] for e in errors), max(e[1] for e in errors)), (skate_cm_s(take), skate_cm_s(free)))


def regenerate(engine, seed: int, cfg: float = 5.0) -> Measured:
    sec = take_seconds(engine)
    base = _take(engine, WALK, sec, seed, cfg=cfg)
    n = base.num_frames
    poses, span = spec.regenerate_poses(base, f"{n // 3}:{2 * n // 3 - 1}", Path("base"))
    take = _take(engine, WALK, sec, seed + 300, spec.Controls(source=poses, span=span), cfg)
    other = _take(engine, WALK, sec, seed + 300, cfg=cfg)
    a, b = span
    spliced = base.replace(rotations=base.rotations.copy(), root_translation=base.root_translation.copy())
    spliced.rotations[a : b + 1], spliced.root_translation[a : b + 1] = other.rotations[a : b + 1], other.root_translation[a : b + 1]
    errors = [pose_errors(take, f, base, f) for f in (a - 1, b + 1)]
    joins = [a, b + 1]
    # the free reference: the base take's seed outside the range, the new seed's inside (seams.spliced_skate)
    free_skate = spliced_skate(body_positions(base), body_positions(other), base.fps, a, b)
    return Measured("regenerate", seed, worst_seam(body_positions(take), joins), worst_seam(body_positions(spliced), joins),
                    (max(e[0] for e in errors), max(e[1] for e in errors)), (skate_cm_s(take), free_skate),
                    {"skate_base": skate_cm_s(base), "skate_new_seed": skate_cm_s(other)})


RUNS = {"start": start, "extend": extend, "loop": loop, "keys": keys, "regenerate": regenerate}


def measure(engine, seeds=(0, 1), controls=CONTROLS, cfg: float = 5.0) -> list[Measured]:
    return [RUNS[c](engine, s, cfg) for c in controls for s in seeds]
