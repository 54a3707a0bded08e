"""A small animated stick-figure GIF per take, drawn headless with Pillow.

Pillow's ImageDraw is enough for bones as lines and costs ~1 ms a frame, where a matplotlib
figure costs ~20 ms; at 2,000 takes that is the difference between seconds and minutes.
The camera follows the root over the ground plane, so long walks stay in frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from motionbridge.exporters.atomic import atomic_path
from motionbridge.rigs import Clip


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


def project(clip: Clip, config: PreviewConfig = PreviewConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates (F,J,2) in pixels for the kept frame indices."""
    _, positions = clip.world()
    keep = np.unique(np.linspace(0, clip.num_frames - 1, min(clip.num_frames, config.max_frames)).round().astype(int))
    up, gx, gz = _up_and_ground(clip, positions[keep])
    a = np.deg2rad(config.azimuth_deg)
    sx = gx * np.cos(a) - gz * np.sin(a)
    depth = gx * np.sin(a) + gz * np.cos(a)
    sy = up + config.elevation * depth
    root_sx, root_depth = sx[:, :1], depth[:, :1]
    sx = sx - root_sx  # follow the root sideways ...
    sy = sy - config.elevation * root_depth  # ... and in depth, keep height
    height = max(float(np.ptp(up)), 1e-6)
    scale = 0.8 * config.size / max(height, float(np.ptp(sx)), 1e-6)
    px = config.size / 2 + sx * scale
    py = config.size * 0.9 - (sy - float(up.min())) * scale
    return np.stack([px, py], axis=-1), keep


def render_gif(clip: Clip, path: Path, config: PreviewConfig = PreviewConfig()) -> Path:
    from PIL import Image, ImageDraw

    screen, keep = project(clip, config)
    parents = clip.skeleton.parents
    frames = []
    for f in range(len(keep)):
        img = Image.new("P", (config.size, config.size), 0)
        img.putpalette([255, 255, 255, *config.bone_rgb, *config.ground_rgb] + [0] * (256 - 3) * 3)
        draw = ImageDraw.Draw(img)
        ground_y = int(config.size * 0.9)
        draw.line([(4, ground_y), (config.size - 4, ground_y)], fill=2, width=1)
        for j, p in enumerate(parents):
            if p >= 0:
                draw.line([tuple(screen[f, p]), tuple(screen[f, j])], fill=1, width=2)
        frames.append(img)
    step = (keep[1] - keep[0]) if len(keep) > 1 else 1
    frame_ms = max(20, int(round(1000.0 * step / clip.fps)))
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0, optimize=True)
    return path
