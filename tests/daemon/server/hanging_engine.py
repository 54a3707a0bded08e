"""The toy engine, except that a prompt containing HANG stops making progress mid-batch and
never returns, as a worker stuck in a CUDA kernel does (for the daemon's --step-timeout), and
that with `stuck_while=PATH` the model load blocks while that file exists, as a read from a
hung network mount does (for --load-timeout), and with `broken_while=PATH` it fails while that
file exists.

Loaded by the daemon through `--engine-factory hanging_engine:make_engine`; the worker
finds this folder and `toy_engine` (one folder up) on its PYTHONPATH.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from toy_engine import ToyEngine


class HangingEngine(ToyEngine):
    def __init__(self, step_s: float, hang_after_step: int):
        super().__init__(step_s)
        self.hang_after_step = hang_after_step

    def generate(self, requests, *, on_step=None, is_cancelled=None, preview_every=0):
        if not any("HANG" in r.prompt for r in requests):
            return super().generate(requests, on_step=on_step, is_cancelled=is_cancelled, preview_every=preview_every)

        def step_then_hang(info) -> None:
            if on_step is not None:
                on_step(info)
            if info.step >= self.hang_after_step:
                _hang_forever()

        return super().generate(requests, on_step=step_then_hang, is_cancelled=is_cancelled, preview_every=preview_every)


HANG_LIMIT_S = 300.0  # "forever" for the daemon; bounded so a failed test leaves no immortal orphan


def _hang_forever() -> None:
    # A hung kernel answers neither the link nor a polite SIGTERM: only SIGKILL ends it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(HANG_LIMIT_S)
    os._exit(70)


def _stuck_while(path: Path) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a process in a hung read does not die politely either
    deadline = time.monotonic() + HANG_LIMIT_S
    while path.exists():
        if time.monotonic() > deadline:
            os._exit(70)
        time.sleep(0.02)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def make_engine(device: str = "cpu", step_s: str = "0.02", hang_after_step: str = "2",
                stuck_while: str = "", broken_while: str = "") -> HangingEngine:
    if stuck_while:
        _stuck_while(Path(stuck_while))
    if broken_while and Path(broken_while).exists():  # a mount that came back broken: the load fails
        raise OSError(f"Stale file handle (toy): {broken_while}")
    return HangingEngine(float(step_s), int(hang_after_step))
