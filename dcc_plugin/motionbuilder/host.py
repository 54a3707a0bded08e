"""MotionBuilder implementation of the host contract, in HumanIK or Direct mode.

HumanIK mode: rigs are the scene's characters; each result is keyed on the SMPL-X source
skeleton in a new FBTake, and the chosen character takes the source as its input.
Direct mode: rigs are skeleton roots; the clip is retargeted by motionbridge.rigs and keyed
on the joints themselves. Worker threads queue work; FBSystem.OnUIIdle drains it.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from typing import Any

from pyfbsdk import FBApplication, FBGetSelectedModels, FBModelList, FBSystem

from motionbridge.dcc_plugin.core import humanik as hik_core
from motionbridge.dcc_plugin.core.host import HostError, StatusCallbackHost, TakeInfo
from motionbridge.dcc_plugin.core.takes_list import RIG_KEY
from motionbridge.rigs import Clip, Skeleton

from . import humanik, scene, scene_io

MODES = ("humanik", "direct")


class MotionBuilderHost(StatusCallbackHost):
    name = "motionbuilder"

    def __init__(self, mode: str = "humanik", on_status: Callable[[float, str, str], None] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        super().__init__(on_status)
        self._rigs: dict[str, tuple[Skeleton, list[Any]]] = {}  # rig -> skeleton and keyed joints, as read_rig read them
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
            self._rigs[rig] = (hik_core.source_skeleton(up_axis="y", units="cm"), humanik.source_joints())
        else:
            self._rigs[rig] = scene.read_skeleton(scene.find_model(rig))
        return self._rigs[rig][0]

    # -- takes ----------------------------------------------------------------------------
    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        if rig not in self._rigs:
            raise HostError(f"rig {rig!r} was not read; press Generate again")
        _, joints = self._rigs[rig]
        # the takes list shows the rig; Export finds the keyed joints again from KEYED_ON
        info = scene.key_clip(joints, clip.skeleton, clip, take_name, {**metadata, RIG_KEY: rig, scene.KEYED_ON: joints[0].LongName})
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

    def read_take(self, take_name: str) -> Clip:
        take = scene.find_take(take_name)
        metadata = scene.take_metadata(take) or {}
        skeleton, joints = self._keyed_joints(take_name, metadata)
        return scene.read_take(take, joints, skeleton, metadata)

    def _keyed_joints(self, take_name: str, metadata: dict[str, Any]) -> tuple[Skeleton, list[Any]]:
        """The skeleton and joints a take's keys are on: the rig as read_rig read it for
        Generate in this session, else the HumanIK source skeleton or the rig's own joints."""
        rig = str(metadata.get(RIG_KEY, ""))
        if rig in self._rigs:
            return self._rigs[rig]
        keyed_on = str(metadata.get(scene.KEYED_ON, ""))
        characters = {c.LongName for c in FBSystem().Scene.Characters}
        if keyed_on.startswith(humanik.NAMESPACE + ":") or (not keyed_on and rig in characters):
            return hik_core.source_skeleton(up_axis="y", units="cm"), humanik.existing_source_joints(take_name)
        root = keyed_on or rig
        try:
            return scene.read_skeleton(scene.find_model(root))
        except HostError:
            raise HostError(f"take {take_name!r} was keyed on {root or 'a skeleton'}, which is no longer in the scene; "
                            "it cannot be exported") from None

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

    # -- directing (untested in MotionBuilder: type-checked only) -------------------------
    def current_frame(self) -> float:
        return scene_io.current_frame()

    def scene_fps(self) -> float:
        return scene_io.scene_fps()

    def read_pose(self, rig: str, frames: Sequence[float]) -> Clip:
        """The rig as the current take plays it (HumanIK mode: the character's skeleton is
        read through the source joints' mapping only once it drives them, so Direct mode)."""
        if self.mode == "humanik":
            raise HostError("reading the character's pose is for Direct mode; switch the mode, or use motionbridge generate --start-from")
        skeleton, joints = self._rigs.get(rig) or scene.read_skeleton(scene.find_model(rig))
        return scene_io.read_pose(joints, skeleton, frames)

    def keyed_frames(self, rig: str) -> list[int]:
        if self.mode == "humanik":
            raise HostError("In-between reads a skeleton's keys: use Direct mode")
        _, joints = self._rigs.get(rig) or scene.read_skeleton(scene.find_model(rig))
        return scene_io.keyed_frames(joints)

    def preview_range(self) -> tuple[int, int] | None:
        """The transport's loop range (MotionBuilder has no separate preview range)."""
        return scene_io.loop_range()

    def sample_curve(self, curve: str, rig: str, count: int) -> Any:
        return scene_io.sample_curve(curve, count)

