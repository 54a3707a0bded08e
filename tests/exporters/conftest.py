"""Synthetic takes (smooth random motion on the SMPL-X skeleton) and shared readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from motionbridge.rigs import Clip, Skeleton, quat
from motionbridge.rigs.skeleton import UNITS
from motionbridge.rigs.smplx import smplx_skeleton

HERE = Path(__file__).resolve().parent
BLENDER_SCRIPT = HERE / "blender_readback.py"


def smooth_clip(frames: int = 12, fps: float = 30.0, seed: int = 0, skeleton: Skeleton | None = None,
                prompt: str = "a person waves") -> Clip:
    """Random but smooth local rotations (sums of slow sinusoids) and a wandering root."""
    skel = skeleton or smplx_skeleton()
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    amp = rng.uniform(0.1, 0.7, size=(1, skel.num_joints, 3))
    freq = rng.uniform(0.3, 1.5, size=(1, skel.num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(1, skel.num_joints, 3))
    aa = amp * np.sin(2 * np.pi * freq * t + phase)
    rot = quat.multiply(skel.rest_rotations[None], quat.from_axis_angle(aa))
    root = skel.rest_translations[0] + np.stack(
        [0.5 * np.sin(t[:, 0, 0]), 0.05 * np.cos(3 * t[:, 0, 0]), 0.8 * t[:, 0, 0]], axis=-1
    ) * (1.0 / UNITS[skel.units])
    meta = {"prompt": prompt, "seed": seed, "model": "HY-Motion-1.0-test"}
    return Clip(skel, quat.normalize(rot), root, fps, meta)


def world_positions_in(clip: Clip, up: str = "z") -> np.ndarray:
    """Our FK in metres, in a reader's frame: Blender is Z-up (x, -z, y from Y-up)."""
    _, pos = clip.world()
    pos = pos * UNITS[clip.skeleton.units]
    if clip.skeleton.up_axis == up:
        return pos
    if up == "z":
        return np.stack([pos[..., 0], -pos[..., 2], pos[..., 1]], axis=-1)
    return np.stack([pos[..., 0], pos[..., 2], -pos[..., 1]], axis=-1)


def blender_readback(jobs: list[dict], out: Path, timeout: float = 300) -> dict:
    """Import files in one headless Blender process; returns {job index: {take: (F,J,3)}, ...}."""
    spec = out.with_suffix(".json")
    spec.write_text(json.dumps(jobs))
    proc = subprocess.run(
        [sys.executable, str(BLENDER_SCRIPT), str(spec), str(out)],
        capture_output=True, text=True, timeout=timeout, env=os.environ,
    )
    assert proc.returncode == 0, f"Blender readback failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(out.with_suffix(".result.json").read_text())


@pytest.fixture(scope="session")
def clip_a() -> Clip:
    return smooth_clip(frames=12, seed=1, prompt="a person waves")


@pytest.fixture(scope="session")
def clip_b() -> Clip:
    return smooth_clip(frames=10, seed=2, prompt="a person jumps")


def expected_in_file_frame(clip: Clip, up: str, units: str) -> np.ndarray:
    """Our FK after converting the clip to a file's axes/units, in metres."""
    from motionbridge.exporters.prepare import to_frame

    return to_frame(clip, up, units).world()[1] * UNITS[units]


def ufbx_readback(path: Path, frames: int | Sequence[int], out: Path) -> dict:
    """ufbx in a subprocess; `frames` is a count (0..n-1) or explicit frame numbers."""
    spec = str(frames) if isinstance(frames, int) else ",".join(map(str, frames)) + ","
    proc = subprocess.run(
        [sys.executable, str(HERE / "ufbx_readback.py"), str(path), spec, str(out)],
        capture_output=True, text=True, timeout=300, env=os.environ,
    )
    assert proc.returncode == 0, f"ufbx reader exited with {proc.returncode} on {path}:\n{proc.stderr[-2000:]}"
    return json.loads(out.read_text())


def assimp_readback(path: Path, frames: Sequence[int] | None = None) -> dict:
    """Per animation: {frame: {node: world position}} in file units, at every key (or `frames`)."""
    import pyassimp

    with pyassimp.load(str(path)) as scene:
        nodes: dict[str, tuple[str | None, np.ndarray]] = {}

        def walk(node, parent):
            nodes[node.name] = (parent, np.array(node.transformation, dtype=np.float64))
            for child in node.children:
                walk(child, node.name)

        walk(scene.rootnode, None)
        takes = {}
        for anim in scene.animations:
            channels = {ch.nodename.data.decode(): ch for ch in anim.channels}
            count = max(len(ch.positionkeys) for ch in channels.values())
            out = {}
            for f in (range(count) if frames is None else frames):
                world: dict[str, np.ndarray] = {}
                for name, (parent, rest) in nodes.items():  # parents are visited first
                    local = rest
                    ch = channels.get(name)
                    if ch is not None:
                        p = ch.positionkeys[min(f, len(ch.positionkeys) - 1)].mValue
                        q = ch.rotationkeys[min(f, len(ch.rotationkeys) - 1)].mValue
                        local = np.eye(4)
                        local[:3, :3] = quat.to_matrix(np.array([q.x, q.y, q.z, q.w]))
                        local[:3, 3] = [p.x, p.y, p.z]
                    world[name] = local if parent is None else world[parent] @ local
                out[f] = {n: m[:3, 3].copy() for n, m in world.items()}
            out["count"] = count
            takes[anim.name] = out
        parents = {n: p for n, (p, _) in nodes.items()}
    return {"takes": takes, "parents": parents}


def parents_by_name(skel: Skeleton) -> dict[str, str | None]:
    return {n: (skel.names[p] if p >= 0 else None) for n, p in zip(skel.names, skel.parents)}


def skinned_vertices(clip: Clip, indices: Sequence[int]) -> np.ndarray:
    """Our own linear blend skinning of the body mesh: (F, len(indices), 3) in the clip's frame."""
    from motionbridge.exporters.body import body_mesh

    mesh = body_mesh(clip.skeleton)
    rest_rot, rest_pos = clip.skeleton.rest_world()
    rot, pos = clip.world()
    v = mesh.vertices[indices]  # (V, 3)
    out = np.zeros((clip.num_frames, len(indices), 3))
    for slot in range(4):
        j = mesh.joints[indices, slot]
        w = mesh.weights[indices, slot][None, :, None]
        local = quat.rotate(np.broadcast_to(quat.conjugate(rest_rot[j]), v.shape[:1] + (4,)), v - rest_pos[j])
        out += w * (quat.rotate(rot[:, j], np.broadcast_to(local, (clip.num_frames,) + local.shape)) + pos[:, j])
    return out
