"""What the directing rows read from a MotionBuilder scene: the joints' pose at given frames
(the current take as it plays), the frames the current take keys them on, the loop range and
a 3D path's course. Main thread only; Y-up centimetres, Euler XYZ degrees over PreRotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pyfbsdk import FBModel, FBModelPath3D, FBPlayerControl, FBSystem, FBTime

from motionbridge.dcc_plugin.core.euler_keys import clip_from_euler_keys
from motionbridge.dcc_plugin.core.host import HostError
from motionbridge.rigs import Clip, Skeleton

from .scene import _pre_rotations, find_model


def current_frame() -> float:
    return float(FBSystem().LocalTime.GetSecondDouble()) * scene_fps()


def scene_fps() -> float:
    return float(FBPlayerControl().GetTransportFpsValue())


def _time(frame: float) -> FBTime:
    t = FBTime()
    t.SetSecondDouble(float(frame) / scene_fps())
    return t


def read_pose(joints: list[FBModel], skeleton: Skeleton, frames: Sequence[float]) -> Clip:
    """The joints' Rotation and the root's Translation as they play at each frame; the
    playhead is put back after."""
    player, system = FBPlayerControl(), FBSystem()
    was = FBTime()
    was.SetSecondDouble(system.LocalTime.GetSecondDouble())
    rotations = np.zeros((len(joints), 3, len(frames)))
    root = np.zeros((3, len(frames)))
    try:
        for i, frame in enumerate(frames):
            player.Goto(_time(frame))
            system.Scene.Evaluate()
            for j, model in enumerate(joints):
                value = model.Rotation.Data
                rotations[j, :, i] = (value[0], value[1], value[2])
            value = joints[0].Translation.Data
            root[:, i] = (value[0], value[1], value[2])
    finally:
        player.Goto(was)
    return clip_from_euler_keys(joints[0].LongName, skeleton, _pre_rotations(joints), rotations, root, {"fps": scene_fps()})


def keyed_frames(joints: list[FBModel]) -> list[int]:
    """Frames the current take keys any of the joints' rotation or translation curves on."""
    found: set[int] = set()
    for model in joints:
        for prop in (model.Rotation, model.Translation):
            node = prop.GetAnimationNode()
            if node is None:
                continue
            for i in range(len(node.Nodes)):
                curve = node.Nodes[i].FCurve
                if curve is not None:
                    found.update(int(round(key.Time.GetSecondDouble() * scene_fps())) for key in curve.Keys)
    return sorted(found)


def loop_range() -> tuple[int, int]:
    player = FBPlayerControl()
    return int(player.LoopStart.GetFrame()), int(player.LoopStop.GetFrame())


def sample_curve(name: str, count: int) -> Any:
    """(count, 3) points along the 3D path from its start to its end, global, centimetres."""
    path = find_model(name)
    if not isinstance(path, FBModelPath3D):
        raise HostError(f"{name!r} is not a 3D path; draw the route with Create > 3D Path")
    if path.PathKeyGetCount() < 2:
        raise HostError(f"path {name!r} has fewer than two points; add points to it")
    points = []
    for percent in np.linspace(0.0, 100.0, count):
        v = path.Total_GlobalPathEvaluate(float(percent))
        points.append([v[0], v[1], v[2]])
    return np.array(points)
