"""What the directing rows read from a Maya scene: the joints' pose at given frames, the
frames they are keyed on, the playback range and a NURBS curve's course. Main thread only.

Poses are read with getAttr at each time (the animation as it plays, layers blended), in the
scene's UI units; curves through MFnNurbsCurve in world space (the space read_skeleton reads
the joints in), evenly by arc length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from maya import cmds
from maya.api import OpenMaya as om
from maya.api import OpenMayaAnim as oma

from motionbridge.dcc_plugin.core.euler_keys import clip_from_euler_keys
from motionbridge.dcc_plugin.core.host import HostError
from motionbridge.rigs import Clip, Skeleton

from .scene import ROTATE, TRANSLATE, UNITS, _joint_orients, scene_units

# the stubs type keyframe's query flags as values to set
_keyframe: Any = cmds.keyframe


def current_frame() -> float:
    return float(oma.MAnimControl.currentTime().asUnits(om.MTime.uiUnit()))


def scene_fps() -> float:
    return float(om.MTime(1.0, om.MTime.kSeconds).asUnits(om.MTime.uiUnit()))


def read_pose(joints: list[str], skeleton: Skeleton, frames: Sequence[float]) -> Clip:
    """The joints' rotations and the root's translation as they play at each frame."""
    to_degrees = 180.0 / np.pi if str(cmds.currentUnit(query=True, angle=True)).startswith("rad") else 1.0
    rotations = np.array([[[float(cmds.getAttr(f"{j}.{a}", time=f)) * to_degrees for f in frames] for a in ROTATE] for j in joints])
    root = np.array([[float(cmds.getAttr(f"{joints[0]}.{a}", time=f)) for f in frames] for a in TRANSLATE])
    return clip_from_euler_keys(joints[0], skeleton, _joint_orients(joints), rotations, root, {"fps": scene_fps()})


def keyed_frames(joints: list[str]) -> list[int]:
    """Frames with a key on any of the joints' curves."""
    times = _keyframe(joints, query=True, timeChange=True) or []
    return sorted({int(round(float(t))) for t in times})


def playback_range() -> tuple[int, int]:
    return int(cmds.playbackOptions(query=True, minTime=True)), int(cmds.playbackOptions(query=True, maxTime=True))


def sample_curve(curve: str, count: int) -> np.ndarray:
    """(count, 3) points evenly along the curve's length, world space, scene units."""
    if not cmds.objExists(curve):
        raise HostError(f"{curve!r} is not in the scene; select the path's NURBS curve")
    selection = om.MSelectionList()
    selection.add(curve)
    path = selection.getDagPath(0)
    try:
        path.extendToShape()
        fn = om.MFnNurbsCurve(path)
    except RuntimeError:
        raise HostError(f"{curve!r} is not a NURBS curve; draw the path with the CV or EP curve tool") from None
    total = fn.length()
    _, linear = scene_units()
    points = []
    for share in np.linspace(0.0, 1.0, count):
        p = fn.getPointAtParam(fn.findParamFromLength(total * float(share)), om.MSpace.kWorld)
        points.append([p.x, p.y, p.z])
    return np.array(points) / UNITS[linear]  # API positions are in centimetres
