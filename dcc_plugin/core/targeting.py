"""From the model's SMPL-X clip to a clip on the user's rig.

Two paths:
- the rig *is* an SMPL-X skeleton (the source skeleton MotionBuilder's HumanIK mode builds,
  or one imported from an SMPL-X file): a same-topology transfer that only changes the
  up axis, units and bone rest frames, done here (with Foot lock checked it goes through the
  retargeter below instead: locking is the retargeter's leg IK);
- any other rig: detection and retargeting by `motionbridge.rigs` (presets, mappings,
  foot lock), imported on use so the panel still opens when that part is unavailable.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from motionbridge.rigs import Clip, RigError, Skeleton, quat
from motionbridge.rigs.load import Target
from motionbridge.rigs.metrics import flat_metrics
from motionbridge.rigs.root_motion import apply_root_motion, root_motion_mode
from motionbridge.rigs.skeleton import UNITS

SMPLX_PRESET = "smplx"
# Y-up -> Z-up: +90 degrees about X (y goes to z, the model's forward +Z goes to -Y, Blender's front)
_Y_TO_Z = np.array([np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4)])


class UnmappableRig(RigError):
    """The rig's bones could not be matched to a humanoid: the panel opens the mapping
    editor for it (`cause` is the panel's key for that)."""

    cause = "mapping"

    def __init__(self, message: str, rig: str, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.rig = rig
        self.missing = missing


def is_smplx(skeleton: Skeleton) -> bool:
    from motionbridge.rigs.smplx import SMPLX_JOINT_NAMES

    return set(skeleton.names) == set(SMPLX_JOINT_NAMES)


_CACHE: dict[tuple, Target] = {}
_CACHE_SIZE = 16
# the client's worker (Generate) and the scene worker (Detect) both resolve targets
_CACHE_LOCK = threading.Lock()


def resolve_target(rig: str, skeleton: Skeleton, preset: str = "", mapping: Any = None) -> Target:
    """Detect (or apply the user's preset / mapping file) and check the rig can be driven.
    Raises RigError whose message says what to select or map. Remembers the answer for a rig
    whose joints and rest pose have not changed, so generating again does not detect again."""
    key = (rig, preset, id(mapping) if mapping is not None else None, *_skeleton_key(skeleton))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is None:
        found = _resolve(rig, skeleton, preset, mapping)  # outside the lock: it can take a while
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = found
    return found


def _skeleton_key(skeleton: Skeleton) -> tuple:
    """Equal for skeletons with the same joints and rest pose (each message from the daemon
    brings its own Skeleton object)."""
    return (skeleton.names, skeleton.parents.tobytes(), np.round(skeleton.rest_translations, 6).tobytes(),
            np.round(skeleton.rest_rotations, 6).tobytes(), skeleton.up_axis, skeleton.units)


_SOURCE_MAPPINGS: dict[tuple, Any] = {}


def source_mapping(skeleton: Skeleton) -> Any:
    """The mapping of the model's (SMPL-X) skeleton, bound to `skeleton`. rigs.retarget
    detects it when not given one, trying every preset: about half of a whole retarget's
    time, spent again on every clip for the same skeleton. Detected once per distinct
    skeleton here instead."""
    from motionbridge import rigs

    key = _skeleton_key(skeleton)
    with _CACHE_LOCK:
        found = _SOURCE_MAPPINGS.get(key)
    if found is None:
        found = rigs.detect_rig(skeleton).mapping
        with _CACHE_LOCK:
            if len(_SOURCE_MAPPINGS) >= _CACHE_SIZE:
                _SOURCE_MAPPINGS.pop(next(iter(_SOURCE_MAPPINGS)))
            _SOURCE_MAPPINGS[key] = found
    # same names, hierarchy and rest pose: rebinding would find the same bones
    return found if found.skeleton is skeleton else dataclasses.replace(found, skeleton=skeleton)


def _resolve(rig: str, skeleton: Skeleton, preset: str, mapping: Any) -> Target:
    from motionbridge import rigs

    if is_smplx(skeleton) and mapping is None and preset in ("", SMPLX_PRESET):
        return Target(rig, skeleton, SMPLX_PRESET)
    if mapping is not None or preset:
        spec = mapping if mapping is not None else preset
        try:
            described = rigs.load_rig(spec)
        except (KeyError, ValueError, OSError) as exc:
            raise RigError(
                f"cannot use rig preset or mapping {str(spec)!r} for {rig!r} ({exc}); "
                f"choose one of {', '.join(rigs.preset_names())}, a mapping file, or leave Preset empty to auto-detect"
            ) from None
        bound = described.bind(skeleton)
        if bound.unmapped_required:
            raise UnmappableRig(
                f"preset {described.name!r} does not fit {rig!r}: no bone for {', '.join(bound.unmapped_required)}. "
                "Map those bones in the mapping editor (Map Bones), or pick another preset", rig, bound.unmapped_required)
        return Target(rig, skeleton, described.name, mapping=bound)
    try:
        found = rigs.detect_rig(skeleton)
    except RigError as exc:
        from .mapping_editor import closest_mapping

        closest = closest_mapping(skeleton)
        why = f"no bone found for {', '.join(closest.unmapped_required)} (closest preset {closest.name!r})" if closest.unmapped_required else str(exc)
        raise UnmappableRig(
            f"rig {rig!r} cannot be mapped automatically: {why}. Map its bones in the mapping editor (Map Bones), or choose a preset "
            f"({', '.join(rigs.preset_names())}) or a mapping file under Target", rig, closest.unmapped_required) from None
    return Target(rig, skeleton, str(found.preset), float(found.confidence), found.mapping)


def to_target(source: Clip, target: Target, options: Mapping[str, Any] | None = None) -> tuple[Clip, dict[str, float]]:
    """The source clip expressed on the target skeleton, and its scalar retarget metrics."""
    options = dict(options or {})
    foot_lock = bool(options.get("foot_lock", False))
    root_motion = root_motion_mode(options.get("root_motion", True))  # the panel's checkbox: True = world, False = off
    mapping = target.mapping
    if mapping is None:
        if not foot_lock:  # the exact transfer between two SMPL-X skeletons
            moved = apply_root_motion(transfer_same_topology(source, target.skeleton), root_motion)
            return moved, {"max_direction_error_deg": 0.0}
        # foot lock is the retargeter's leg IK: the SMPL-X rig goes through it, mapped as SMPL-X
        mapping = source_mapping(target.skeleton)
    from motionbridge import rigs

    opts = rigs.RetargetOptions(root_motion=root_motion, foot_lock=foot_lock)
    result = rigs.retarget(source, target.skeleton, mapping=mapping, options=opts,
                           source_mapping=source_mapping(source.skeleton))
    return result.clip, flat_metrics(result.metrics)


def _frame_change(src: Skeleton, dst: Skeleton) -> np.ndarray:
    if src.up_axis == dst.up_axis:
        return np.array(quat.IDENTITY, dtype=np.float64)
    return _Y_TO_Z if src.up_axis == "y" else quat.conjugate(_Y_TO_Z)


def transfer_same_topology(source: Clip, target: Skeleton) -> Clip:
    """Copy each joint's world-space rotation *from rest* onto the same-named target joint,
    whatever the target's bone rest frames, up axis and units (root motion as generated;
    `to_target` applies the panel's root motion choice to the result)."""
    src = source.skeleton
    if set(src.names) != set(target.names):
        raise RigError("same-topology transfer needs the same joint names; use a rig preset instead")
    order = np.array([src.index(n) for n in target.names])  # target joint -> source joint
    expected = np.where(target.parents >= 0, order[np.maximum(target.parents, 0)], -1)
    if not np.array_equal(src.parents[order], expected):
        raise RigError("the rig has the SMPL-X joint names but another hierarchy; use a rig preset instead")
    frame = _frame_change(src, target)
    scale = UNITS[src.units] / UNITS[target.units]
    # rotations only (positions follow from the target's own rest offsets): one quaternion
    # product per joint for FK, then whole-array products
    world = np.empty_like(source.rotations)
    for j, p in enumerate(src.parents):
        world[:, j] = source.rotations[:, j] if p < 0 else quat.multiply(world[:, p], source.rotations[:, j])
    src_rest = _rest_world(src)[0][order]
    dst_rest, dst_rest_pos = _rest_world(target)
    # world delta from rest, in the target's frame (F D F^-1), applied to the target's rest
    delta = quat.multiply(quat.multiply(frame, world[:, order]), quat.conjugate(src_rest))
    dst_world = quat.multiply(quat.multiply(delta, quat.conjugate(frame)), dst_rest)
    local = dst_world.copy()
    has_parent = target.parents >= 0
    local[:, has_parent] = quat.multiply(quat.conjugate(dst_world[:, target.parents[has_parent]]), dst_world[:, has_parent])
    if order[0] != 0:
        raise RigError("the rig's root joint must be the pelvis (SMPL-X joint 0)")
    src_rest_pos = _rest_world(src)[1]
    moved = quat.rotate(np.broadcast_to(frame, (source.num_frames, 4)), (source.root_translation - src_rest_pos[0]) * scale)
    return Clip(target, quat.normalize(local), dst_rest_pos[0] + moved, source.fps, dict(source.metadata))


@functools.lru_cache(maxsize=16)  # skeletons are immutable and hash by identity
def _rest_world(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    return skeleton.rest_world()
