"""MotionBuilder implementation of the host contract, in HumanIK or Direct mode.

HumanIK mode: rigs are the scene's characters; each result is keyed on the SMPL-X source
skeleton in a new FBTake, and the chosen character takes the source as its input.
Direct mode: rigs are skeleton roots; the clip is retargeted by motionbridge.rigs and keyed
on the joints themselves. Worker threads queue work; FBSystem.OnUIIdle drains it.
"""

from __future__ import annotations

import queue
from typing import Any, Callable

from pyfbsdk import FBApplication, FBModelList, FBSystem, FBGetSelectedModels

from motionbridge.dcc_plugin.core import humanik as hik_core
from motionbridge.dcc_plugin.core.host import HostError, StatusCallbackHost, TakeInfo
from motionbridge.dcc_plugin.core.takes_list import RIG_KEY
from motionbridge.rigs import Clip, Skeleton

from . import humanik, scene

MODES = ("humanik", "direct")


class MotionBuilderHost(StatusCallbackHost):
    name = "motionbuilder"

    def __init__(self, mode: str = "humanik", on_status: Callable[[float, str, str], None] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self._queue: "queue.Queue[Callable[[], None]]" = queue.Queue()
        super().__init__(on_status)
        self._joints: dict[str, list[Any]] = {}
        FBSystem().OnUIIdle.Add(self._idle)

    def close(self) -> None:
        FBSystem().OnUIIdle.Remove(self._idle)

    def _idle(self, _control: Any, _event: Any) -> None:
        for _ in range(50):  # bounded, so one idle tick never stalls the UI
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return
            fn()

    def run_on_main_thread(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    # -- rigs -----------------------------------------------------------------------------
    def list_rigs(self) -> list[str]:
        if self.mode == "humanik":
            return sorted(c.LongName for c in FBSystem().Scene.Characters if c.LongName != humanik.CHARACTER)
        return sorted(m.LongName for m in scene.skeleton_roots() if not m.LongName.startswith(humanik.NAMESPACE + ":"))

    def selected_rig(self) -> str | None:
        if self.mode == "humanik":
            current = FBApplication().CurrentCharacter
            return current.LongName if current is not None else None
        selected = FBModelList()
        FBGetSelectedModels(selected)
        for model in selected:
            root = model
            while root.Parent is not None and root.Parent.ClassName() == "FBModelSkeleton":
                root = root.Parent
            if root.ClassName() == "FBModelSkeleton":
                return root.LongName
        return None

    def read_rig(self, rig: str) -> Skeleton:
        if self.mode == "humanik":
            self._joints[rig] = humanik.source_joints()
            return hik_core.source_skeleton(up_axis="y", units="cm")
        skeleton, joints = scene.read_skeleton(scene.find_model(rig))
        self._joints[rig] = joints
        return skeleton

    # -- takes ----------------------------------------------------------------------------
    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        joints = self._joints.get(rig)
        if joints is None:
            raise HostError(f"rig {rig!r} was not read; press Generate again")
        info = scene.key_clip(joints, clip.skeleton, clip, take_name, {**metadata, RIG_KEY: rig})  # the takes list shows it
        if self.mode == "humanik":
            source = humanik.characterise_source(joints)
            humanik.drive(rig, source)
        return TakeInfo(info.name, rig, info.frame_start, info.frame_end, info.fps, info.metadata)

    def plot(self, rig: str) -> None:
        if self.mode != "humanik":
            raise HostError("Plot is for HumanIK mode; Direct mode keys the skeleton already")
        humanik.plot(rig)

    def list_takes(self) -> list[TakeInfo]:
        return scene.list_takes()

    def delete_take(self, take_name: str) -> None:
        take = scene.find_take(take_name)
        if FBSystem().CurrentTake is take and len(FBSystem().Scene.Takes) > 1:
            FBSystem().CurrentTake = next(t for t in FBSystem().Scene.Takes if t is not take)
        take.FBDelete()

    def rename_take(self, take_name: str, new_name: str) -> None:
        scene.find_take(take_name).Name = new_name

    def audition_take(self, take_name: str) -> None:
        FBSystem().CurrentTake = scene.find_take(take_name)

    # -- timeline and feedback ------------------------------------------------------------
    def set_timeline(self, frame_start: int, frame_end: int, fps: float) -> None:
        scene.set_timeline(frame_start, frame_end)

