"""Skeleton and Clip: the types every part of MotionBridge exchanges.

A Skeleton holds rest local transforms; a Clip holds per-frame local rotations for every
joint (full parent-space rotations, so the rest pose is `rotations == rest_rotations`) and
the root joint's per-frame local translation (absolute, not an offset from rest).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import quat

UP_AXES = ("y", "z")
HANDEDNESS = ("right", "left")
UNITS = {"m": 1.0, "cm": 0.01}  # metres per unit


class RigError(ValueError):
    """A skeleton, clip or mapping that cannot be used; the message says what to fix.

    The message is always one short line (see error_line): it often quotes names from a
    file, and a hostile file can make those megabytes long or full of newlines."""

    def __init__(self, message: object = "") -> None:
        super().__init__(error_line(str(message), 400))


def error_line(error: BaseException | str, limit: int = 2000) -> str:
    """An error as one short line for a terminal: newlines folded, the middle cut past
    `limit` characters (messages may quote file contents, which can be megabytes)."""
    text = " ".join(str(error).split())
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


@dataclass(frozen=True, eq=False)
class Skeleton:
    names: tuple[str, ...]
    parents: np.ndarray  # (J,) int32, -1 for roots; parents precede children
    rest_translations: np.ndarray  # (J, 3) float64, offset from the parent in its space
    rest_rotations: np.ndarray  # (J, 4) float64 xyzw, local rest orientation
    up_axis: str = "y"
    units: str = "m"
    handedness: str = "right"  # "left": coordinates mirrored in X (Unreal, Unity)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "parents", np.asarray(self.parents, dtype=np.int32))
        object.__setattr__(self, "rest_translations", np.asarray(self.rest_translations, dtype=np.float64))
        object.__setattr__(self, "rest_rotations", np.asarray(self.rest_rotations, dtype=np.float64))
        self.validate()

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise RigError(f"no joint named {name!r}; joints are {', '.join(self.names[:8])}...") from None

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.nonzero(self.parents == j)[0]]

    def validate(self) -> None:
        n = len(self.names)
        if n == 0:
            raise RigError("a skeleton needs at least one joint")
        if len(set(self.names)) != n:
            dup = sorted({x for x in self.names if self.names.count(x) > 1})
            raise RigError(f"duplicate joint names: {dup}")
        if self.parents.shape != (n,) or self.rest_translations.shape != (n, 3) or self.rest_rotations.shape != (n, 4):
            raise RigError(
                f"skeleton arrays disagree: {n} names, parents {self.parents.shape}, "
                f"rest_translations {self.rest_translations.shape}, rest_rotations {self.rest_rotations.shape}"
            )
        # one array test, not a Python loop over joints: every take a client receives is checked
        wrong = np.nonzero((self.parents >= np.arange(n)) | (self.parents < -1))[0]
        if wrong.size:
            j = int(wrong[0])
            p = int(self.parents[j])
            if p >= j:
                raise RigError(
                    f"joint {self.names[j]!r} comes before its parent (index {p}); "
                    "order joints parents-first (this also rules out cycles)"
                )
            raise RigError(f"joint {self.names[j]!r} has an invalid parent index {p}")
        if not (np.isfinite(self.rest_translations).all() and np.isfinite(self.rest_rotations).all()):
            raise RigError("skeleton rest transforms contain NaN or infinity")
        if np.abs(np.linalg.norm(self.rest_rotations, axis=-1) - 1.0).max() > 1e-4:
            raise RigError("skeleton rest rotations must be unit quaternions (xyzw)")
        if self.up_axis not in UP_AXES:
            raise RigError(f"up_axis must be one of {UP_AXES}, not {self.up_axis!r}")
        if self.units not in UNITS:
            raise RigError(f"units must be one of {tuple(UNITS)}, not {self.units!r}")
        if self.handedness not in HANDEDNESS:
            raise RigError(f"handedness must be one of {HANDEDNESS}, not {self.handedness!r}")

    @property
    def levels(self) -> tuple[np.ndarray, ...]:
        """Joint indices grouped by depth (roots first): FK runs one batched step per level."""
        cached = self.__dict__.get("_levels")
        if cached is None:
            depth = np.zeros(self.num_joints, dtype=np.int64)
            for j, p in enumerate(self.parents):
                depth[j] = 0 if p < 0 else depth[p] + 1
            cached = tuple(np.nonzero(depth == d)[0] for d in range(int(depth.max()) + 1))
            object.__setattr__(self, "_levels", cached)
        return cached

    def rest_world(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (J,4) and positions (J,3) of the rest pose (computed once; read-only)."""
        cached = self.__dict__.get("_rest_world")
        if cached is None:
            rot, pos = forward_kinematics(self, self.rest_rotations[None], self.rest_translations[None, 0])
            rot, pos = rot[0], pos[0]
            rot.flags.writeable = False
            pos.flags.writeable = False
            cached = (rot, pos)
            object.__setattr__(self, "_rest_world", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "parents": self.parents.tolist(),
            "rest_translations": self.rest_translations.tolist(),
            "rest_rotations": self.rest_rotations.tolist(),
            "up_axis": self.up_axis,
            "units": self.units,
            "handedness": self.handedness,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Skeleton:
        return cls(
            names=tuple(d["names"]),
            parents=np.asarray(d["parents"]),
            rest_translations=np.asarray(d["rest_translations"], dtype=np.float64),
            rest_rotations=np.asarray(d["rest_rotations"], dtype=np.float64),
            up_axis=d.get("up_axis", "y"),
            units=d.get("units", "m"),
            handedness=d.get("handedness", "right"),
        )


@dataclass(eq=False)
class Clip:
    skeleton: Skeleton
    rotations: np.ndarray  # (F, J, 4) xyzw local rotations
    root_translation: np.ndarray  # (F, 3) local translation of joint 0
    fps: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_translation = np.asarray(self.root_translation, dtype=np.float64)
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def validate(self) -> None:
        f, j = self.rotations.shape[:2] if self.rotations.ndim == 3 else (None, None)
        if self.rotations.ndim != 3 or self.rotations.shape[2] != 4 or j != self.skeleton.num_joints:
            raise RigError(
                f"rotations must be (frames, {self.skeleton.num_joints}, 4) xyzw, got {self.rotations.shape}"
            )
        if self.root_translation.shape != (f, 3):
            raise RigError(f"root_translation must be ({f}, 3), got {self.root_translation.shape}")
        if not (isinstance(self.fps, (int, float, np.floating)) and np.isfinite(self.fps) and self.fps > 0):
            raise RigError(f"fps must be a positive number, got {self.fps!r}")
        if not (np.isfinite(self.rotations).all() and np.isfinite(self.root_translation).all()):
            raise RigError("clip contains NaN or infinite rotations or translations")
        squared = np.einsum("...i,...i->...", self.rotations, self.rotations)
        if np.abs(squared - 1.0).max(initial=0.0) > 2e-3:  # |q| within 1e-3 of 1
            raise RigError("clip rotations must be unit quaternions (xyzw)")

    def world(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame world rotations (F,J,4) and joint positions (F,J,3)."""
        return forward_kinematics(self.skeleton, self.rotations, self.root_translation)

    def replace(self, **changes: Any) -> Clip:
        return dataclasses.replace(self, **changes)


def joint_major(shape_fj: tuple[int, int], width: int) -> np.ndarray:
    """An empty (F, J, width) array stored joint by joint, so gathering joints copies blocks."""
    frames, joints = shape_fj
    return np.empty((joints, frames, width)).transpose(1, 0, 2)


def forward_kinematics(
    skeleton: Skeleton, rotations: np.ndarray, root_translation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World rotations and positions (F,J,4), (F,J,3); one batched step per depth level."""
    rotations = np.asarray(rotations, dtype=np.float64)
    frames = rotations.shape[0]
    local = np.ascontiguousarray(rotations.transpose(1, 0, 2))  # joint-major: see joint_major
    world_rot = np.empty((skeleton.num_joints, frames, 4))
    world_pos = np.empty((skeleton.num_joints, frames, 3))
    offsets = skeleton.rest_translations[:, None, :]
    for level in skeleton.levels:
        par = skeleton.parents[level]
        if par[0] < 0:  # roots (all of depth 0)
            world_rot[level] = local[level]
            world_pos[level] = offsets[level]
            if level[0] == 0:
                world_pos[0] = root_translation
            continue
        parent_rot = world_rot[par]
        world_rot[level] = quat.multiply(parent_rot, local[level])
        world_pos[level] = world_pos[par] + quat.rotate(parent_rot, offsets[level])
    return world_rot.transpose(1, 0, 2), world_pos.transpose(1, 0, 2)


def positions_from_world(skeleton: Skeleton, world_rotations: np.ndarray, root_translation: np.ndarray) -> np.ndarray:
    """Joint world positions (F,J,3) from world rotations already known (saves FK's products)."""
    world_rot = world_rotations.transpose(1, 0, 2)
    pos = np.empty((skeleton.num_joints, world_rotations.shape[0], 3))
    offsets = skeleton.rest_translations[:, None, :]
    for level in skeleton.levels:
        par = skeleton.parents[level]
        if par[0] < 0:
            pos[level] = offsets[level]
            if level[0] == 0:
                pos[0] = root_translation
            continue
        pos[level] = pos[par] + quat.rotate(world_rot[par], offsets[level])
    return pos.transpose(1, 0, 2)


def skeleton_from_world(
    names: Sequence[str],
    parents: Sequence[int] | np.ndarray,
    world_positions: np.ndarray,
    world_rotations: np.ndarray | None = None,
    up_axis: str = "y",
    units: str = "m",
) -> Skeleton:
    """Build a Skeleton from rest joint world positions (and optional world orientations)."""
    parents_arr = np.asarray(parents, dtype=np.int32)
    world_positions = np.asarray(world_positions, dtype=np.float64)
    n = len(names)
    wrot = np.tile(quat.IDENTITY, (n, 1)) if world_rotations is None else np.asarray(world_rotations, dtype=np.float64)
    local_t = np.empty((n, 3))
    local_r = np.empty((n, 4))
    for j in range(n):
        p = parents_arr[j]
        if p < 0:
            local_t[j] = world_positions[j]
            local_r[j] = wrot[j]
        else:
            inv = quat.conjugate(wrot[p])
            local_t[j] = quat.rotate(inv, world_positions[j] - world_positions[p])
            local_r[j] = quat.multiply(inv, wrot[j])
    return Skeleton(tuple(names), parents_arr, local_t, quat.normalize(local_r), up_axis, units)


def order_parents_first(names: Sequence[str], parent_names: Sequence[str | None]) -> list[int]:
    """A parents-first order of joints given by parent *names*; refuses cycles and unknown parents."""
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if list(names).count(x) > 1})
        raise RigError(f"duplicate joint names: {dup}")
    index = {n: i for i, n in enumerate(names)}
    for n, p in zip(names, parent_names):
        if p is not None and p not in index:
            raise RigError(f"joint {n!r} names a parent {p!r} that is not in the skeleton")
    order: list[int] = []
    state = [0] * len(names)  # 0 new, 1 on the current path, 2 placed
    for start in range(len(names)):
        path = []
        j: int | None = start
        while j is not None and state[j] == 0:
            state[j] = 1
            path.append(j)
            p = parent_names[j]
            j = None if p is None else index[p]
        if j is not None and state[j] == 1:
            cycle = [names[k] for k in path[path.index(j):]]
            raise RigError(f"joint hierarchy has a cycle: {' -> '.join(cycle)} -> {names[j]}; every chain must end at a root")
        for k in reversed(path):
            state[k] = 2
            order.append(k)
    return order


def nearest_kept_ancestors(kept: Sequence[int], parent_of: Sequence[int]) -> list[int]:
    """For each node in `kept`, its closest ancestor that is kept too (-1 for none): file
    readers skip helper and non-joint nodes that sit between bones."""
    keep = set(kept)
    out = []
    for i in kept:
        p = parent_of[i]
        while p >= 0 and p not in keep:
            p = parent_of[p]
        out.append(p)
    return out


def rotations_from_world_matrices(m: np.ndarray) -> np.ndarray:
    """(N, 4, 4) world matrices -> (N, 4) xyzw rotations, with any scale divided out."""
    rot = m[:, :3, :3] / np.linalg.norm(m[:, :3, :3], axis=1, keepdims=True)
    return quat.from_matrix(rot)


def skeleton_from_parent_names(
    names: Sequence[str],
    parent_names: Sequence[str | None],
    world_positions: np.ndarray,
    world_rotations: np.ndarray | None = None,
    up_axis: str = "y",
    units: str = "m",
) -> Skeleton:
    """Like skeleton_from_world, for joints in any order with parents given by name."""
    order = order_parents_first(names, parent_names)
    where = {names[k]: i for i, k in enumerate(order)}
    parents = [-1 if (p := parent_names[k]) is None else where[p] for k in order]
    pos = np.asarray(world_positions, dtype=np.float64)[order]
    rot = None if world_rotations is None else np.asarray(world_rotations, dtype=np.float64)[order]
    if not np.isfinite(pos).all() or (rot is not None and not np.isfinite(rot).all()):
        raise RigError("skeleton rest transforms contain NaN or infinity")
    return skeleton_from_world([names[k] for k in order], parents, pos, rot, up_axis, units)
