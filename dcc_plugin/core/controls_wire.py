"""GENERATE's `controls` field (daemon/PROTOCOL.md, "Directed takes"), built from SMPL-X
clips inside a DCC.

The daemon reads and checks the field with `daemon/controls/wire.py` (`from_wire`), which a
DCC's Python cannot import (it sits beside the model code); this is the same layout written
from the panel's side with numpy only: poses as float64 local rotation matrices of the
model's 22 joints and root translations relative to SMPL-X's rest root, in raw arrays named
`controls.<part>.<array>`. `tests/dcc_plugin/core/test_controls_wire.py` reads every part
back through the daemon's `from_wire`, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from motionbridge.daemon.protocol.frames import CONTROLS_VERSION
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, smplx_skeleton

PREFIX = "controls."
Part = tuple[dict[str, Any], dict[str, np.ndarray]]


def model_pose(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """A clip on SMPL-X -> (F, 22, 3, 3) local rotations and (F, 3) root minus the rest root."""
    rotations = quat.to_matrix(quat.normalize(np.asarray(clip.rotations[:, :NUM_BODY_JOINTS], dtype=np.float64)))
    return np.ascontiguousarray(rotations, dtype="<f8"), np.asarray(clip.root_translation - smplx_skeleton().rest_translations[0], dtype="<f8")


def poses(name: str, clip: Clip, record: dict[str, Any], root: bool = True) -> Part:
    """A pose part ('start': the last frame is the take's frame 0; 'end': the first is its
    last frame; 'keys'); `root` False leaves the pelvis position free."""
    rotations, transl = model_pose(clip)
    arrays = {f"{PREFIX}{name}.rotations": rotations}
    if root:
        arrays[f"{PREFIX}{name}.transl"] = transl
    return {name: {"record": dict(record), "root": root}}, arrays


def keys(clip: Clip, frames: list[int], record: dict[str, Any]) -> Part:
    field, arrays = poses("keys", clip, record)
    field["keys"]["frames"] = [int(f) for f in frames]
    return field, arrays


def source(clip: Clip, span: tuple[int, int], record: dict[str, Any]) -> Part:
    """The whole take to regenerate, frames span[0]..span[1] (inclusive) made anew."""
    field, arrays = poses("source", clip, record)
    field["source"]["span"] = [int(span[0]), int(span[1])]
    return field, arrays


def loop() -> Part:
    return {"loop": True}, {}


def path(rows: np.ndarray, record: dict[str, Any]) -> Part:
    """(P, 3) rows of (take frame, x, z): where the pelvis is on the ground plane."""
    return {"path": {"record": dict(record)}}, {f"{PREFIX}path": np.asarray(rows, dtype="<f8")}


def combine(*parts: Part) -> Part:
    """The versioned field and its arrays, from any parts that go together."""
    field: dict[str, Any] = {"v": CONTROLS_VERSION}
    arrays: dict[str, np.ndarray] = {}
    for f, a in parts:
        field.update(f)
        arrays.update(a)
    return field, arrays
