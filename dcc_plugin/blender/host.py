"""Blender implementation of the host contract.

Worker threads post callables into a queue; a `bpy.app.timers` function drains it on the
main thread, so every scene write happens there. `drain()` is that timer's body.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from typing import Any

import bpy
import numpy as np

from motionbridge.dcc_plugin.core.host import Host, HostError, TakeInfo
from motionbridge.rigs import Clip, Skeleton

from . import scene_io, takes_io
from .rig_io import pose_channels, read_skeleton

# how often the timer drains the workers' queue: a result waits half of this on average
# before its keys are written (an empty drain costs microseconds, so it can be short)
DRAIN_EVERY_S = 0.01
MAX_DRAIN_S = 0.03  # keep each timer tick short so the UI stays responsive


class BlenderHost(Host):
    name = "blender"

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._saved_pose: dict[str, dict[str, tuple]] = {}
        self._skeletons: dict[str, Skeleton] = {}
        self.progress = 0.0
        self.message = ""
        self.error = ""
        self._timer_on = False

    # -- main thread --------------------------------------------------------------------
    def run_on_main_thread(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def start(self) -> None:
        if not self._timer_on:
            bpy.app.timers.register(self._tick, first_interval=DRAIN_EVERY_S, persistent=True)
            self._timer_on = True

    def stop(self) -> None:
        if self._timer_on and bpy.app.timers.is_registered(self._tick):
            bpy.app.timers.unregister(self._tick)
        self._timer_on = False

    def _tick(self) -> float:
        self.drain()
        return DRAIN_EVERY_S

    def drain(self, budget_s: float = MAX_DRAIN_S) -> int:
        """Run queued main-thread work for at most `budget_s`; returns how many ran."""
        import time

        end = time.perf_counter() + budget_s
        ran = 0
        while time.perf_counter() < end:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                break
            fn()
            ran += 1
        return ran

    # -- rigs ---------------------------------------------------------------------------
    def list_rigs(self) -> list[str]:
        return sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE")

    def selected_rig(self) -> str | None:
        scene_target = getattr(bpy.context.scene, "motionbridge", None)
        if scene_target is not None and scene_target.target is not None:
            return scene_target.target.name
        obj = bpy.context.view_layer.objects.active if bpy.context.view_layer else None
        if obj is not None and obj.type == "ARMATURE":
            return obj.name
        if obj is not None and obj.parent is not None and obj.parent.type == "ARMATURE":
            return obj.parent.name  # the character's mesh is selected: use its armature
        return None

    def _armature(self, rig: str) -> bpy.types.Object:
        obj = bpy.data.objects.get(rig)
        if obj is None or obj.type != "ARMATURE":
            raise HostError(f"{rig!r} is not an armature in this file; select the character's armature")
        return obj

    def read_rig(self, rig: str) -> Skeleton:
        skeleton = read_skeleton(self._armature(rig))
        self._skeletons[rig] = skeleton
        return skeleton

    def _skeleton(self, rig: str) -> Skeleton:
        return self._skeletons.get(rig) or self.read_rig(rig)

    # -- takes --------------------------------------------------------------------------
    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        obj = self._armature(rig)
        self.clear_preview(rig)
        return takes_io.write_take(obj, clip.skeleton, clip, take_name, metadata)

    def list_takes(self) -> list[TakeInfo]:
        return takes_io.list_takes()

    def delete_take(self, take_name: str) -> None:
        takes_io.delete_take(take_name)

    def rename_take(self, take_name: str, new_name: str) -> None:
        takes_io.rename_take(take_name, new_name)

    def audition_take(self, take_name: str) -> None:
        takes_io.audition(take_name)

    def place_take(self, take_name: str, frame_start: int) -> TakeInfo:
        return takes_io.place(take_name, frame_start)

    def read_take(self, take_name: str) -> Clip:
        obj, _, _ = takes_io.find_take(take_name)
        return takes_io.read_take(take_name, self._skeleton(obj.name))

    # -- preview ------------------------------------------------------------------------
    def show_preview(self, rig: str, clip: Clip) -> None:
        """Pose the armature with the preview's frame under the playhead (no keys)."""
        obj = self._armature(rig)
        skeleton = clip.skeleton
        wxyz, loc = pose_channels(skeleton, clip)
        frame = int(np.clip(bpy.context.scene.frame_current - takes_io.FIRST_FRAME, 0, clip.num_frames - 1))
        saved = self._saved_pose.setdefault(rig, {})
        bones = obj.pose.bones
        for j, name in enumerate(skeleton.names):
            pb = bones.get(name)
            if pb is None:
                continue
            if name not in saved:
                saved[name] = (pb.rotation_mode, tuple(pb.rotation_quaternion), tuple(pb.location))
            pb.rotation_mode = "QUATERNION"
            pb.rotation_quaternion = wxyz[frame, j]
            if j == 0:
                pb.location = loc[frame]
        obj.update_tag()

    def clear_preview(self, rig: str) -> None:
        saved = self._saved_pose.pop(rig, None)
        obj = bpy.data.objects.get(rig)
        if not saved or obj is None:
            return
        for name, (mode, q, loc) in saved.items():
            pb = obj.pose.bones.get(name)
            if pb is not None:
                pb.rotation_quaternion = q
                pb.location = loc
                pb.rotation_mode = mode
        obj.update_tag()

    # -- directing ----------------------------------------------------------------------
    def current_frame(self) -> float:
        scene = bpy.context.scene
        return float(scene.frame_current) + float(scene.frame_subframe)

    def scene_fps(self) -> float:
        render = bpy.context.scene.render
        return float(render.fps) / float(render.fps_base)

    def read_pose(self, rig: str, frames: Sequence[float]) -> Clip:
        """The armature as it plays at each frame (scene.frame_set, subframes included), read
        from the pose bones' basis; the playhead is put back after."""
        obj = self._armature(rig)
        skeleton = self.read_rig(rig)
        return scene_io.read_pose(obj, skeleton, frames)

    def keyed_frames(self, rig: str) -> list[int]:
        return scene_io.keyed_frames(self._armature(rig))

    def preview_range(self) -> tuple[int, int] | None:
        scene = bpy.context.scene
        return (int(scene.frame_preview_start), int(scene.frame_preview_end)) if scene.use_preview_range else None

    def sample_curve(self, curve: str, rig: str, count: int) -> np.ndarray:
        return scene_io.sample_curve(curve, self._armature(rig), count)

    # -- timeline and feedback ----------------------------------------------------------
    def set_timeline(self, frame_start: int, frame_end: int, fps: float) -> None:
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = int(frame_start), int(frame_end)
        whole = round(fps)
        scene.render.fps, scene.render.fps_base = (whole, 1.0) if abs(fps - whole) < 1e-6 else (round(fps * 1.001), 1.001)

    def report_progress(self, fraction: float, message: str) -> None:
        self.progress, self.message = float(fraction), message
        redraw()

    def report_error(self, message: str) -> None:
        self.error = message
        redraw()


def redraw() -> None:
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
