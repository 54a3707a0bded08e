"""A small animated stick-figure GIF per take, drawn headless with Pillow.

Pillow's ImageDraw is enough for bones as lines and costs ~1 ms a frame, where a matplotlib
figure costs ~20 ms; at 2,000 takes that is the difference between seconds and minutes.
The camera follows the root over the ground plane, so long walks stay in frame.
Only the rig's body is drawn: the bones its description maps to the canonical humanoid,
minus twist bones, each joined to its nearest drawn ancestor. Helpers that never deform
(a UE5 `root` on the ground, `ik_*` targets, props, twist/roll bones) would otherwise show
as static lines between the feet and the ground.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionbridge.exporters.atomic import atomic_path
from motionbridge.rigs import Clip, RigDescription, RigError, Skeleton
from motionbridge.rigs.canonical import TWIST


@dataclass(frozen=True)
class PreviewConfig:
    size: int = 160  # pixels, square
    max_frames: int = 48  # frames kept in the GIF (evenly subsampled)
    azimuth_deg: float = 35.0  # camera turned about the up axis
    elevation: float = 0.25  # how much the ground depth shows as vertical offset
    bone_rgb: tuple[int, int, int] = (40, 90, 200)
    ground_rgb: tuple[int, int, int] = (200, 200, 200)


def _up_and_ground(clip: Clip, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split world positions (F,J,3) into up (F,J) and two ground axes."""
    if clip.skeleton.up_axis == "z":
        return positions[..., 2], positions[..., 0], -positions[..., 1]
    return positions[..., 1], positions[..., 0], positions[..., 2]


def project(clip: Clip, config: PreviewConfig = PreviewConfig(), joints: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates (F,J,2) in pixels for the kept frame indices. The camera frames
    `joints` (default: all) and follows the first of them (the hips of a drawn body)."""
    _, positions = clip.world()
    keep = np.unique(np.linspace(0, clip.num_frames - 1, min(clip.num_frames, config.max_frames)).round().astype(int))
    up, gx, gz = _up_and_ground(clip, positions[keep])
    a = np.deg2rad(config.azimuth_deg)
    sx = gx * np.cos(a) - gz * np.sin(a)
    depth = gx * np.sin(a) + gz * np.cos(a)
    sy = up + config.elevation * depth
    framed = list(joints) if joints else slice(None)
    first = joints[0] if joints else 0
    root_sx, root_depth = sx[:, first:first + 1], depth[:, first:first + 1]
    sx = sx - root_sx  # follow the root sideways ...
    sy = sy - config.elevation * root_depth  # ... and in depth, keep height
    height = max(float(np.ptp(up[:, framed])), 1e-6)
    scale = 0.8 * config.size / max(height, float(np.ptp(sx[:, framed])), 1e-6)
    px = config.size / 2 + sx * scale
    py = config.size * 0.9 - (sy - float(up[:, framed].min())) * scale
    return np.stack([px, py], axis=-1), keep


@functools.lru_cache(maxsize=64)
def drawn_bones(skeleton: Skeleton, rig: RigDescription | None = None) -> tuple[tuple[int, int], ...]:
    """(parent joint, joint) pairs to draw: the body bones of `rig` (bound to `skeleton`
    here; None: the rig is detected from the names), each joined to its nearest drawn
    ancestor. A skeleton that maps as no humanoid is drawn whole."""
    from motionbridge.rigs import detect_rig
    from motionbridge.rigs.skeleton import nearest_kept_ancestors

    try:
        bound = rig.bind(skeleton) if rig is not None else detect_rig(skeleton).mapping
    except RigError:
        body = list(range(skeleton.num_joints))
    else:
        body = sorted(skeleton.index(name) for bone, name in bound.bones.items() if bone not in TWIST)
    ancestors = nearest_kept_ancestors(body, [int(p) for p in skeleton.parents])
    return tuple((p, j) for j, p in zip(body, ancestors) if p >= 0)


def render_gif(clip: Clip, path: Path, config: PreviewConfig = PreviewConfig(), rig: RigDescription | None = None) -> Path:
    """Writes the take's preview GIF; `rig` is the target's description (None: detected)."""
    from PIL import Image, ImageDraw

    bones = drawn_bones(clip.skeleton, rig)
    screen, keep = project(clip, config, tuple(sorted({j for bone in bones for j in bone})))
    frames = []
    for f in range(len(keep)):
        img = Image.new("P", (config.size, config.size), 0)
        img.putpalette([255, 255, 255, *config.bone_rgb, *config.ground_rgb] + [0] * (256 - 3) * 3)
        draw = ImageDraw.Draw(img)
        ground_y = int(config.size * 0.9)
        draw.line([(4, ground_y), (config.size - 4, ground_y)], fill=2, width=1)
        for p, j in bones:
            draw.line([tuple(screen[f, p]), tuple(screen[f, j])], fill=1, width=2)
        frames.append(img)
    step = (keep[1] - keep[0]) if len(keep) > 1 else 1
    frame_ms = max(20, int(round(1000.0 * step / clip.fps)))
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0, optimize=True)
    return path
