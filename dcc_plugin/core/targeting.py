"""From the model's SMPL-X clip to a clip on the user's rig.

Two paths:
- the rig *is* an SMPL-X skeleton (the source skeleton MotionBuilder's HumanIK mode builds,
  or one imported from an SMPL-X file): a same-topology transfer that only changes the
  up axis, units and bone rest frames, done here;
- any other rig: detection and retargeting by `motionbridge.rigs` (presets, mappings,
  foot lock), imported on use so the panel still opens when that part is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from motionbridge.rigs import Clip, RigError, Skeleton, quat
from motionbridge.rigs.skeleton import UNITS

SMPLX_PRESET = "smplx"
# Y-up -> Z-up: +90 degrees about X (y goes to z, the model's forward +Z goes to -Y, Blender's front)
_Y_TO_Z = np.array([np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4)])


@dataclass(frozen=True)
class Target:
    """A rig ready to receive clips: its skeleton and how source joints map onto it."""

    rig: str
    skeleton: Skeleton
    preset: str
    confidence: float
    mapping: Mapping[str, str] | None = None  # None for the SMPL-X same-topology path
    unmapped_required: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        return f"{self.rig}: {self.preset or 'custom mapping'} ({self.confidence:.0%})"


def is_smplx(skeleton: Skeleton) -> bool:
    from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES

    return tuple(skeleton.names) == SMPLX_JOINT_NAMES


def resolve_target(rig: str, skeleton: Skeleton, preset: str = "", mapping: Mapping[str, str] | None = None) -> Target:
    """Detect (or apply the user's preset/mapping) and check the rig can be driven.
    Raises RigError whose message says what to select or map."""
    if is_smplx(skeleton) and not mapping and preset in ("", SMPLX_PRESET):
        return Target(rig, skeleton, SMPLX_PRESET, 1.0)
    try:
        from motionbridge import rigs
        detect_rig = rigs.detect_rig  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        raise RigError(
            f"rig {rig!r} is not an SMPL-X skeleton and this install has no retargeting "
            "(motionbridge.rigs.detect_rig); update MotionBridge or use an SMPL-X source skeleton"
        ) from None
    if mapping:
        return Target(rig, skeleton, preset or "custom", 1.0, dict(mapping))
    if preset:
        try:
            described = rigs.load_rig(preset)  # type: ignore[attr-defined]
        except (KeyError, ValueError, OSError) as exc:
            raise RigError(f"unknown rig preset {preset!r} ({exc}); choose one from the Preset list or leave it on Auto") from None
        return Target(rig, skeleton, preset, 1.0, dict(getattr(described, "mapping", {}) or {}))
    found = detect_rig(skeleton)
    missing = tuple(getattr(found, "unmapped_required", ()) or ())
    if missing:
        raise RigError(
            f"rig {rig!r} cannot be mapped automatically: no joint found for {', '.join(missing)}. "
            "Choose a preset or map those joints in the Target section"
        )
    return Target(rig, skeleton, str(found.preset), float(found.confidence), dict(found.mapping), missing)


def to_target(source: Clip, target: Target, options: Mapping[str, Any] | None = None) -> tuple[Clip, dict[str, float]]:
    """The source clip expressed on the target skeleton, and retarget metrics."""
    options = dict(options or {})
    if target.mapping is None:
        clip = transfer_same_topology(source, target.skeleton)
        return clip, {"max_joint_error_m": 0.0}
    from motionbridge import rigs

    opts_cls = getattr(rigs, "RetargetOptions")
    known = getattr(opts_cls, "__dataclass_fields__", {})
    opts = opts_cls(**{k: v for k, v in options.items() if k in known})
    result = rigs.retarget(source, target.skeleton, mapping=dict(target.mapping), options=opts)  # type: ignore[attr-defined]
    metrics = {k: float(v) for k, v in dict(getattr(result, "metrics", {}) or {}).items() if isinstance(v, (int, float))}
    return result.clip, metrics


def _frame_change(src: Skeleton, dst: Skeleton) -> np.ndarray:
    if src.up_axis == dst.up_axis:
        return np.array(quat.IDENTITY, dtype=np.float64)
    return _Y_TO_Z if src.up_axis == "y" else quat.conjugate(_Y_TO_Z)


def transfer_same_topology(source: Clip, target: Skeleton) -> Clip:
    """Copy each joint's world-space rotation *from rest* onto the same-named target joint,
    whatever the target's bone rest frames, up axis and units."""
    src = source.skeleton
    if tuple(src.names) != tuple(target.names) or not np.array_equal(src.parents, target.parents):
        raise RigError("same-topology transfer needs the same joints in the same order; use a rig preset instead")
    frame = _frame_change(src, target)
    scale = UNITS[src.units] / UNITS[target.units]
    world_rot, world_pos = source.world()
    src_rest_rot, src_rest_pos = src.rest_world()
    dst_rest_rot, dst_rest_pos = target.rest_world()
    # world delta from rest, expressed in the target's frame: D' = F D F^-1
    delta = quat.multiply(world_rot, quat.conjugate(src_rest_rot)[None])
    delta = quat.multiply(quat.multiply(frame[None, None], delta), quat.conjugate(frame)[None, None])
    dst_world = quat.multiply(delta, dst_rest_rot[None])
    local = dst_world.copy()
    for j, p in enumerate(target.parents):
        if p >= 0:
            local[:, j] = quat.multiply(quat.conjugate(dst_world[:, p]), dst_world[:, j])
    moved = quat.rotate(np.broadcast_to(frame, (len(world_pos), 4)), (world_pos[:, 0] - src_rest_pos[0]) * scale)
    root = dst_rest_pos[0] + moved
    return Clip(target, quat.normalize(local), root, source.fps, dict(source.metadata))
