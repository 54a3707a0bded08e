"""Result-to-keys time in bpy, without the model: how long from a 5 s result arriving on the
panel's worker to its keys written on a ~70-bone armature (a full Mixamo rig: 67 bones).

    python tests/dcc_plugin/blender/keys_bench.py [--runs 15] [--foot-lock] [--profile]

The panel, the BlenderHost and the take writer are the real ones; only the daemon is a
stand-in that hands over one SMPL-X result at once (as the real client does after the last
denoising step). The main thread is pumped every 5 ms, like the e2e test; Blender's own
timer drains the queue every DRAIN_EVERY_S, which adds up to that much on top.
Prints the split (retarget on the worker, keys on the main thread) and the total per run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / ".pkgroot"))  # built by tests/conftest.py

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from motionbridge.dcc_plugin.blender.host import BlenderHost  # noqa: E402
from motionbridge.dcc_plugin.core.panel import Panel, State  # noqa: E402
from motionbridge.dcc_plugin.core.settings import Settings  # noqa: E402
from motionbridge.rigs import Skeleton, synthetic  # noqa: E402
from motionbridge.rigs.humanoid import build_rig  # noqa: E402


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    clip: Any = None


@dataclass
class OneResultHandle:
    """The client's handle for a request whose result is already in (model time excluded)."""

    clip: Any
    seed: int
    request_id: str = "bench"
    done: bool = False
    sent: bool = False

    def poll(self, timeout_s: float = 0.0) -> list[Event]:
        if self.sent:
            self.done = True
            return []
        self.sent, self.done = True, True
        return [Event("result", {"seed": self.seed}, self.clip)]

    def cancel(self) -> None:
        self.done = True


@dataclass
class InstantClient:
    clip: Any
    handles: list[OneResultHandle] = field(default_factory=list)

    def hello(self) -> dict[str, Any]:
        return {"daemon": "bench", "model": "none"}

    def generate(self, prompt: str, seeds=(0,), **_: Any) -> OneResultHandle:
        self.handles.append(OneResultHandle(self.clip, int(seeds[0])))
        return self.handles[-1]

    def close(self) -> None:
        pass


def build_armature(name: str, skeleton: Skeleton) -> bpy.types.Object:
    """A Blender armature on the skeleton's rest joints, each bone pointing at its first child."""
    _, pos = skeleton.rest_world()
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, bone_name in enumerate(skeleton.names):
        kids = [c for c in range(skeleton.num_joints) if skeleton.parents[c] == j]
        head = pos[j]
        tail = pos[kids[0]] if kids else head + np.array([0.0, 0.0, 0.05])
        if np.linalg.norm(tail - head) < 1e-3:
            tail = head + np.array([0.0, 0.0, 0.03])
        eb = data.edit_bones.new(bone_name)
        eb.head, eb.tail = head, tail
        if skeleton.parents[j] >= 0:
            eb.parent = bones[skeleton.parents[j]]
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def run_once(panel: Panel, host: BlenderHost, seed: int) -> None:
    assert panel.generate("A person walks forward.", seed_start=seed)
    end = time.monotonic() + 60
    while panel.state not in (State.TAKE_WRITTEN, State.ERROR):
        if time.monotonic() > end:
            raise TimeoutError(panel.status)
        host.drain()
        time.sleep(0.005)
    if panel.state is State.ERROR:
        raise RuntimeError(panel.error)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--foot-lock", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the main thread's take writes")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    args = parser.parse_args()

    rig = build_rig("mixamo", bone_axes="y_along_bone", up_axis="z", units="m")
    obj = build_armature("Hero", rig)
    clip = synthetic.walking(5.0)  # 150 frames at 30 fps, on the SMPL-X skeleton
    host = BlenderHost()
    settings = Settings(variations=1, duration_s=5.0, preview_every=0, foot_lock=args.foot_lock)
    panel = Panel(host, settings, lambda s: InstantClient(clip))
    panel.connect()
    while panel.state is not State.CONNECTED:
        host.drain()
        time.sleep(0.005)
    host.selected_rig = lambda: obj.name  # type: ignore[method-assign]
    run_once(panel, host, 1000)  # warm up: detection (cached afterwards), imports, first allocations
    panel.write_ms.clear()
    panel.timings.clear()
    profiler = cProfile.Profile() if args.profile else None
    for i in range(args.runs):
        if profiler is not None:
            profiler.enable()
        run_once(panel, host, i)
        if profiler is not None:
            profiler.disable()
    panel.close()
    total, retarget, keys = panel.write_ms, panel.timings["retarget_ms"], panel.timings["keys_ms"]

    def summary(xs: list[float]) -> str:
        return f"min {min(xs):5.1f}  median {statistics.median(xs):5.1f}  max {max(xs):5.1f} ms"

    print(f"{obj.name}: {len(obj.data.bones)} bones, {clip.num_frames} frames, foot lock {'on' if args.foot_lock else 'off'}, "
          f"{args.runs} runs")
    print(f"  retarget (worker)     {summary(retarget)}")
    print(f"  keys (main thread)    {summary(keys)}")
    print(f"  result -> keys total  {summary(total)}")
    if args.json:
        args.json.write_text(json.dumps({"bones": len(obj.data.bones), "frames": clip.num_frames, "foot_lock": args.foot_lock,
                                         "retarget_ms": retarget, "keys_ms": keys, "total_ms": total}))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    import os

    os._exit(0)  # bpy as a module can hang in its C++ teardown
