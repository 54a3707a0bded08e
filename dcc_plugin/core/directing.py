"""Directed takes from the scene: what the panel's directing rows send with Generate.

Each row reads the scene through the host contract (`Host.current_frame`, `read_pose`,
`keyed_frames`, `preview_range`, `sample_curve`, `read_take`), takes the poses back from the
user's rig to SMPL-X with the inverse of the same retargeting (`rigs.reverse_retarget`) and
builds GENERATE's versioned `controls` field (`controls_wire.py`):

- Start from current pose: the rig at the playhead (and 2 model frames before it, so its
  motion carries on) is the take's frame 0.
- In-between: the keyed frames of the rig around the playhead are the take's first and last
  frame; the take lasts the gap.
- Extend take: a take's last frames start the new motion; the written take is the old one
  followed by the new frames (one take, so it plays through).
- Loop: the take's last frame flows into its first.
- Regenerate range: a take is kept outside the scene's preview range and made anew inside.
- Follow path: the pelvis follows a curve object, sampled on the ground plane and spread
  evenly over the take.

Each row's function reads the scene now (the DCC's main thread) and returns a `Builder`:
given the target's bone mapping, which is resolved on the panel's worker, it makes the
`Direction` there (reverse retargeting is numpy work that must not hold the UI). Bad scene
input (no keys around the playhead, no preview range) is a ValueError at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motionbridge.daemon.protocol import limits
from motionbridge.rigs import Clip, RigError, Skeleton

from . import controls_wire
from .host import Host, HostError

CONTEXT_FRAMES = 3  # model frames read at a start or an end: pose, velocity and acceleration carry over
PATH_POINTS = 16  # waypoints a curve becomes
_UP = {"y": 1, "z": 2}


@dataclass(frozen=True)
class Direction:
    """A directed Generate: the controls field and arrays to send, the duration it fixes
    (None: the panel's), the frames the written take starts with (Extend: the old take on
    the rig), what the take's metadata records about it and where it goes on the timeline."""

    kind: str
    controls: tuple[dict[str, Any], dict[str, np.ndarray]]
    duration_s: float | None = None
    prefix: Clip | None = None
    record: dict[str, Any] = field(default_factory=dict)
    frame_start: int | None = None  # the scene frame the written take starts at (None: where the host puts takes)


def _model_frames(first: float, count: int, step: float) -> list[float]:
    """`count` scene frames one model frame (`step` scene frames) apart: from `first` on,
    or, for a negative step, ending at `first`."""
    frames = [first + step * i for i in range(count)]
    return frames[::-1] if step < 0 else frames


def _scene_step(host: Host) -> float:
    """Scene frames per model frame (30 fps)."""
    return float(host.scene_fps()) / limits.FPS


def _to_model(clip: Clip, mapping: Any) -> Clip:
    """A clip on the user's rig -> SMPL-X (Y-up metres), through the inverse retarget."""
    from motionbridge.rigs.reverse_retarget import to_smplx

    try:
        return to_smplx(clip, mapping)
    except RigError as exc:
        raise ValueError(f"the rig's pose cannot be taken back to the model's skeleton: {exc}") from None


def _read_poses(host: Host, rig: str, frames: list[float]) -> Clip:
    """The rig at these scene frames, as model frames (30 fps)."""
    clip = host.read_pose(rig, frames)
    if clip.num_frames != len(frames):
        raise HostError(f"{host.name} read {clip.num_frames} poses of {rig!r} for {len(frames)} frames")
    return Clip(clip.skeleton, clip.rotations, clip.root_translation, float(limits.FPS), dict(clip.metadata))


def _on_timeline(host: Host, frame: float) -> int | None:
    """Where a take whose frame 0 is scene frame `frame` starts: that frame, when the scene
    runs at the model's 30 fps (else None: takes change the scene to 30 fps, so the frame
    would not be the same moment)."""
    return int(round(frame)) if abs(host.scene_fps() - limits.FPS) < 1e-6 and abs(frame - round(frame)) < 1e-6 else None


def _take_start(host: Host, take_name: str) -> int | None:
    return next((t.frame_start for t in host.list_takes() if t.name == take_name), None)


Builder = Callable[[Any], Direction]  # the target's bone mapping (None: detect) -> Direction


def start_from_current_pose(host: Host, rig: str) -> Builder:
    """The rig's pose at the playhead as frame 0, with the 2 model frames before it."""
    now = float(host.current_frame())
    clip = _read_poses(host, rig, _model_frames(now, CONTEXT_FRAMES, -_scene_step(host)))
    record = {"rig": rig, "frame": now, "context_frames": CONTEXT_FRAMES}

    at = _on_timeline(host, now)

    def build(mapping: Any) -> Direction:
        parts = controls_wire.combine(controls_wire.poses("start", _to_model(clip, mapping), record))
        return Direction("start_pose", parts, record={"start_from_current_pose": record}, frame_start=at)

    return build


def keyed_gap(keyed: list[int], playhead: float) -> tuple[int, int]:
    """The two keyed frames around the playhead: the last key at or before it and the first
    key after it. ValueError saying what to key otherwise."""
    keys = sorted({int(k) for k in keyed})
    before = [k for k in keys if k <= playhead]
    after = [k for k in keys if k > playhead]
    if not before or not after:
        where = "no key at or before it" if not before else "no key after it"
        raise ValueError(f"In-between needs the playhead between two keyed frames of the rig ({where}; keyed frames: "
                         f"{', '.join(map(str, keys[:8])) or 'none'})")
    return before[-1], after[0]


def in_between(host: Host, rig: str) -> Builder:
    """A take from the rig's key before the playhead to its key after it, filling the gap."""
    a, b = keyed_gap(host.keyed_frames(rig), float(host.current_frame()))
    step = _scene_step(host)
    frames = int(round((b - a) / step)) + 1  # the take's frames, both keys included
    longest = limits.MAX_FRAMES - 2 * (CONTEXT_FRAMES - 1)
    if not limits.MIN_FRAMES <= frames <= longest:
        raise ValueError(f"the keys at frames {a} and {b} make a take of {frames} frames at {limits.FPS} fps; In-between fills "
                         f"{limits.MIN_FRAMES} to {longest} ({limits.MIN_FRAMES / limits.FPS:.2f} to {longest / limits.FPS:.1f} s)")
    start = _read_poses(host, rig, _model_frames(float(a), CONTEXT_FRAMES, -step))
    end = _read_poses(host, rig, _model_frames(float(b), CONTEXT_FRAMES, step))
    rec_a = {"rig": rig, "frame": a, "context_frames": CONTEXT_FRAMES}
    rec_b = {"rig": rig, "frame": b, "context_frames": CONTEXT_FRAMES}
    at = _on_timeline(host, a)

    def build(mapping: Any) -> Direction:
        parts = controls_wire.combine(controls_wire.poses("start", _to_model(start, mapping), rec_a),
                                      controls_wire.poses("end", _to_model(end, mapping), rec_b))
        return Direction("inbetween", parts, duration_s=frames / limits.FPS, record={"in_between": {"rig": rig, "frames": [a, b]}},
                         frame_start=at)

    return build


def _model_rate_take(host: Host, take_name: str, what: str) -> Clip:
    take = host.read_take(take_name)
    if abs(take.fps - limits.FPS) > 1e-6:
        raise ValueError(f"take {take_name!r} is at {take.fps:g} fps; {what} works on takes at the model's {limits.FPS} fps")
    return take


def extend_take(host: Host, take_name: str) -> Builder:
    """Continue a take from its last frames; the written take is the old one, then the new frames."""
    old = _model_rate_take(host, take_name, "Extend")
    if old.num_frames < CONTEXT_FRAMES:
        raise ValueError(f"take {take_name!r} has {old.num_frames} frames; Extend needs at least {CONTEXT_FRAMES}")
    first = old.num_frames - CONTEXT_FRAMES
    tail = Clip(old.skeleton, old.rotations[first:], old.root_translation[first:], old.fps, {})
    record = {"take": take_name, "frame": old.num_frames - 1, "context_frames": CONTEXT_FRAMES}
    at = _take_start(host, take_name)

    def build(mapping: Any) -> Direction:
        parts = controls_wire.combine(controls_wire.poses("start", _to_model(tail, mapping), record))
        return Direction("extend", parts, prefix=old, record={"extend_take": record}, frame_start=at)

    return build


def loop() -> Builder:
    return lambda mapping: Direction("loop", controls_wire.combine(controls_wire.loop()), record={"loop": True})


def regenerate_range(host: Host, take_name: str) -> Builder:
    """The take kept outside the timeline's preview range, made anew inside it."""
    span = host.preview_range()
    if span is None:
        raise ValueError("Regenerate range redoes the timeline's preview range: set one around the frames to redo")
    info = next((t for t in host.list_takes() if t.name == take_name), None)
    if info is None:
        raise ValueError(f"no take named {take_name!r}; pick a take in the list")
    old = _model_rate_take(host, take_name, "Regenerate range")
    if old.num_frames > limits.MAX_FRAMES:
        raise ValueError(f"take {take_name!r} has {old.num_frames} frames; Regenerate range works on takes of at most {limits.MAX_FRAMES}")
    a, b = max(int(span[0]) - info.frame_start, 0), min(int(span[1]) - info.frame_start, old.num_frames - 1)
    if a > b:
        raise ValueError(f"the preview range {span[0]}-{span[1]} is outside take {take_name!r} "
                         f"(frames {info.frame_start}-{info.frame_end}); set it inside the take")
    record = {"take": take_name, "frames": [a, b]}

    def build(mapping: Any) -> Direction:
        parts = controls_wire.combine(controls_wire.source(_to_model(old, mapping), (a, b), {"take": take_name}))
        return Direction("regenerate", parts, duration_s=old.num_frames / limits.FPS, record={"regenerate_range": record},
                         frame_start=info.frame_start)

    return build


def follow_path(host: Host, rig: str, curve: str, duration_s: float) -> Builder:
    """The pelvis follows `curve`, sampled on the ground plane, at an even speed over the take."""
    skeleton = host.read_rig(rig)
    dense = np.asarray(host.sample_curve(curve, rig, 8 * PATH_POINTS), dtype=np.float64)
    if dense.ndim != 2 or dense.shape[1] != 3 or len(dense) < 2 or not np.isfinite(dense).all():
        raise ValueError(f"curve {curve!r} gave no usable points; pick a curve object with at least two points")
    points = even_points(dense, skeleton.up_axis, PATH_POINTS)
    frames = limits.num_frames(duration_s)

    def build(mapping: Any) -> Direction:
        ground = _ground_in_model(skeleton, points, mapping)
        rows = np.column_stack([np.linspace(0.0, frames - 1, len(ground)), ground])
        parts = controls_wire.combine(controls_wire.path(rows, {"curve": curve, "points": len(ground)}))
        return Direction("path", parts, record={"follow_path": {"curve": curve, "rig": rig}})

    return build


def even_points(dense: np.ndarray, up_axis: str, count: int) -> np.ndarray:
    """`count` points evenly spaced by ground-plane arc length along a densely sampled curve."""
    flat = dense.copy()
    flat[:, _UP[up_axis]] = 0.0
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(flat, axis=0), axis=1))])
    if arc[-1] < 1e-6:
        raise ValueError("the curve does not move on the ground plane (its points are stacked vertically); draw it along the floor")
    where = np.linspace(0.0, arc[-1], count)
    return np.column_stack([np.interp(where, arc, dense[:, c]) for c in range(3)])


def _ground_in_model(skeleton: Skeleton, points: np.ndarray, mapping: Any) -> np.ndarray:
    """Rig-space ground points -> the model's pelvis (x, z): the rig at rest, moved so its
    hips stand over each point, taken back to SMPL-X like any pose."""
    n = len(points)
    rest = np.broadcast_to(skeleton.rest_rotations, (n, *skeleton.rest_rotations.shape)).copy()
    _, rest_pos = skeleton.rest_world()
    offset = points - rest_pos[_hips_index(skeleton, mapping)]
    offset[:, _UP[skeleton.up_axis]] = 0.0
    root = skeleton.rest_translations[0] + offset
    model = _to_model(Clip(skeleton, rest, root, float(limits.FPS), {}), mapping)
    return model.root_translation[:, [0, 2]]


def _hips_index(skeleton: Skeleton, mapping: Any) -> int:
    from motionbridge.rigs.retarget import bind_checked

    try:
        return int(bind_checked(mapping, skeleton).indices()["hips"])
    except (RigError, KeyError):
        raise ValueError("the rig's hips bone was not found; map it in the Bone Mapping editor") from None


def directed_take(direction: Direction, clip: Clip, metadata: dict[str, Any],
                  constraints: Any = None) -> tuple[Clip, dict[str, Any]]:
    """What is written for a directed result `clip` (on the rig): Extend puts the old take
    first (the new take's frame 0 is the old one's last frame, so it is not repeated); the
    metadata records what directed it, and `constraints`, the daemon's record of what it imposed."""
    record = {**metadata, "directed": {"kind": direction.kind, **direction.record}}
    if constraints is not None:
        record["constraints"] = constraints
    old = direction.prefix
    if old is None:
        return clip, record
    if tuple(old.skeleton.names) != tuple(clip.skeleton.names):
        raise ValueError("Extend continues a take on the same rig; the target has changed since the take was made")
    rotations = np.concatenate([old.rotations, clip.rotations[1:]])
    root = np.concatenate([old.root_translation, clip.root_translation[1:]])
    record["num_frames"] = len(rotations)
    record["duration_s"] = len(rotations) / clip.fps
    return Clip(clip.skeleton, rotations, root, clip.fps, dict(clip.metadata)), record


def combined(*builders: Builder) -> Builder:
    """Builders whose controls go together in one take (Loop and Follow path on Generate)."""

    def build(mapping: Any) -> Direction:
        made = [b(mapping) for b in builders]
        parts = controls_wire.combine(*(d.controls for d in made))
        record: dict[str, Any] = {}
        for d in made:
            record.update(d.record)
        return Direction("+".join(d.kind for d in made), parts, next((d.duration_s for d in made if d.duration_s), None),
                         next((d.prefix for d in made if d.prefix is not None), None), record)

    return build


MODES = ("plain", "current_pose", "in_between", "extend", "regenerate")


def from_choices(host: Host, mode: str, rig: str, *, take: str = "", loop_on: bool = False, curve: str = "",
                 duration_s: float = 5.0) -> Builder | None:
    """The panel's directing choices -> the builder to send (None: a plain take). The scene is
    read now; ValueError / HostError with the line to show when it does not fit the choice.
    `take` is the take Extend and Regenerate work on; Loop and the curve go with plain Generate."""
    if mode not in MODES:
        raise ValueError(f"unknown directing mode {mode!r}; one of {', '.join(MODES)}")
    if mode in ("extend", "regenerate") and not take:
        raise ValueError(f"{'Extend take' if mode == 'extend' else 'Regenerate range'} works on a take: click one in the takes list first")
    if mode == "current_pose":
        return start_from_current_pose(host, rig)
    if mode == "in_between":
        return in_between(host, rig)
    if mode == "extend":
        return extend_take(host, take)
    if mode == "regenerate":
        return regenerate_range(host, take)
    chosen = ([loop()] if loop_on else []) + ([follow_path(host, rig, curve, duration_s)] if curve else [])
    return None if not chosen else chosen[0] if len(chosen) == 1 else combined(*chosen)
