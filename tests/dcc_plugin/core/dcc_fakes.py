"""A fake DCC implementing the host contract, and a scripted stand-in for the daemon client.

FakeHost keeps takes in dicts and runs main-thread work only when the test pumps it, like a
DCC's event loop. ScriptedClient follows the documented MotionBridgeClient API and event
kinds; the real client against a real daemon is exercised by the Blender end-to-end test.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motionbridge.dcc_plugin.core.host import Host, HostError, TakeInfo
from motionbridge.rigs import Clip, Skeleton, quat
from motionbridge.rigs.smplx import smplx_skeleton


def random_smplx_clip(seed: int, frames: int = 12, fps: float = 30.0) -> Clip:
    sk = smplx_skeleton()
    rng = np.random.default_rng(seed)
    aa = rng.normal(scale=0.3, size=(frames, sk.num_joints, 3))
    rot = quat.from_axis_angle(aa)
    root = np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0) + sk.rest_translations[0]
    return Clip(sk, rot, root, fps, {"seed": seed, "model": "tiny", "model_hash": "abc123"})


class FakeHost(Host):
    name = "fake"

    def __init__(self, rigs: dict[str, Skeleton], selected: str | None = None) -> None:
        self.rigs = dict(rigs)
        self.selected = selected
        self.takes: dict[str, tuple[TakeInfo, Clip]] = {}
        self.previews: list[tuple[str, Clip]] = []
        self.cleared = 0
        self.timeline: tuple[int, int, float] | None = None
        self.errors: list[str] = []
        self.progress: list[float] = []
        self.fail_apply_on: int | None = None  # apply_take call number that raises
        self.apply_calls = 0
        self.main_thread = threading.get_ident()
        self.off_main_calls: list[str] = []
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()

    def _check_thread(self, what: str) -> None:
        if threading.get_ident() != self.main_thread:
            self.off_main_calls.append(what)

    def list_rigs(self) -> list[str]:
        self._check_thread("list_rigs")
        return sorted(self.rigs)

    def selected_rig(self) -> str | None:
        return self.selected

    def read_rig(self, rig: str) -> Skeleton:
        self._check_thread("read_rig")
        return self.rigs[rig]

    def apply_take(self, rig: str, clip: Clip, take_name: str, metadata: dict[str, Any]) -> TakeInfo:
        self._check_thread("apply_take")
        self.apply_calls += 1
        if self.fail_apply_on == self.apply_calls:
            raise HostError("disk full (simulated)")
        if take_name in self.takes:
            raise HostError(f"take {take_name} exists")
        info = TakeInfo(take_name, rig, 1, clip.num_frames, clip.fps, dict(metadata))
        self.takes[take_name] = (info, clip)
        return info

    def list_takes(self) -> list[TakeInfo]:
        return [t for t, _ in self.takes.values()]

    def read_take(self, take_name: str) -> Clip:
        self._check_thread("read_take")
        if take_name not in self.takes:
            raise KeyError(f"no take named {take_name!r}")
        return self.takes[take_name][1]

    def delete_take(self, take_name: str) -> None:
        del self.takes[take_name]

    def rename_take(self, take_name: str, new_name: str) -> None:
        info, clip = self.takes.pop(take_name)
        self.takes[new_name] = (TakeInfo(new_name, info.rig, info.frame_start, info.frame_end, info.fps, info.metadata), clip)

    def show_preview(self, rig: str, clip: Clip) -> None:
        self._check_thread("show_preview")
        self.previews.append((rig, clip))

    def clear_preview(self, rig: str) -> None:
        self.cleared += 1

    def set_timeline(self, frame_start: int, frame_end: int, fps: float) -> None:
        self.timeline = (frame_start, frame_end, fps)

    def run_on_main_thread(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def report_progress(self, fraction: float, message: str) -> None:
        self.progress.append(fraction)

    def report_error(self, message: str) -> None:
        self.errors.append(message)

    def pump(self, until: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Run queued main-thread work until `until()` holds (the DCC's event loop)."""
        deadline = time.monotonic() + timeout_s
        while not until():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not reached while pumping the main thread (errors: {self.errors[-2:]}, progress: "
                                   f"{self.progress[-3:]}, takes: {sorted(self.takes)})")
            try:
                self._queue.get(timeout=0.01)()
            except queue.Empty:
                pass


@dataclass
class Event:
    kind: str
    data: dict[str, Any]
    clip: Clip | None = None


class ClientError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass
class ScriptedHandle:
    request_id: str
    script: list[Event]
    step_delay_s: float = 0.0
    cancelled: bool = False
    done: bool = False
    thread_ids: set[int] = field(default_factory=set)

    def poll(self, timeout_s: float = 0.0) -> list[Event]:
        self.thread_ids.add(threading.get_ident())
        if self.cancelled or not self.script:
            self.done = True
            return []
        time.sleep(self.step_delay_s)
        event = self.script.pop(0)
        self.done = not self.script
        return [event]

    def cancel(self) -> None:
        self.thread_ids.add(threading.get_ident())
        self.cancelled = True


class ScriptedClient:
    """Documented client API; `fail_hello` / `fail_with` simulate an unreachable daemon."""

    def __init__(self, fail_hello: ClientError | None = None, error_event: bool = False, step_delay_s: float = 0.0, hello_delay_s: float = 0.0) -> None:
        self.fail_hello = fail_hello
        self.error_event = error_event
        self.step_delay_s = step_delay_s
        self.hello_delay_s = hello_delay_s
        self.requests: list[dict[str, Any]] = []
        self.handles: list[ScriptedHandle] = []
        self.closed = False

    def hello(self) -> dict[str, Any]:
        time.sleep(self.hello_delay_s)
        if self.fail_hello is not None:
            raise self.fail_hello
        return {"daemon": "0.1.0", "model": "tiny-parity", "model_hash": "abc123"}

    def status(self) -> dict[str, Any]:
        return {"queue": 0}

    def generate(self, prompt: str, duration_s: float = 5.0, seeds=(0,), cfg: float = 5.0, model=None, preview_every: int = 0,
                 priority: str = "interactive", **options: Any) -> ScriptedHandle:
        self.requests.append(dict(prompt=prompt, duration_s=duration_s, seeds=tuple(seeds), cfg=cfg, model=model, preview_every=preview_every,
                                  priority=priority, options=options))
        rid = f"r{len(self.requests)}"
        script = [Event("accepted", {"request_id": rid})]
        for step in (1, 2, 3):
            script.append(Event("progress", {"step": step, "total": 3}))
        script.append(Event("preview", {"step": 2, "seed": seeds[0]}, random_smplx_clip(99)))
        if self.error_event:
            script.append(Event("error", {"code": "worker_died", "message": "the model worker died; restarting"}))
        else:
            for s in seeds:
                clip = random_smplx_clip(s)
                clip.metadata["prompt"] = prompt
                script.append(Event("result", {"seed": s}, clip))
        handle = ScriptedHandle(rid, script, self.step_delay_s)
        self.handles.append(handle)
        return handle

    def close(self) -> None:
        self.closed = True
