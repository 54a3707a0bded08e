"""The panel shows why a running request waits or runs slower (states.stage_line): queued
behind N requests (ACCEPTED's position), the daemon loading its model, a length compiling;
the status line every DCC draws carries it, the progress bar is left alone while nothing
runs, and the stage is gone once the take is written, cancelled or failed."""

from __future__ import annotations

import pytest
from dcc_fakes import Event, FakeHost, ScriptedClient

from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.dcc_plugin.core.states import stage_line
from motionbridge.rigs.smplx import smplx_skeleton


@pytest.mark.parametrize("stage, queued, line", [
    ("", 3, ""),
    ("loading", 0, "the daemon is loading its model"),
    ("compiling", 0, "compiling this length"),
    ("compiling", 2, "compiling this length, 2 more queued"),
    ("compile_failed", 0, "running uncompiled"),
    ("queued", 1, "queued behind 1 request"),
    ("queued", 4, "queued behind 4 requests"),
    ("warming_cache", 0, "warming cache"),  # a newer daemon's stage: shown by its name
])
def test_stage_lines(stage, queued, line):
    assert stage_line(stage, queued) == line


class StagedClient(ScriptedClient):
    """The scripted request, waiting first: queued behind two, then the model load, then two
    steps on a compiling shape and one compiled."""

    def generate(self, *args, **kwargs):
        handle = super().generate(*args, **kwargs)
        accepted, _steps, rest = handle.script[0], handle.script[1:4], handle.script[4:]
        accepted.data.update(id=handle.request_id, position=2)
        handle.script = [accepted, Event("progress", {"step": 0, "total": 0, "stage": "loading", "queued": 0}),
                         Event("progress", {"step": 1, "total": 3, "stage": "compiling", "queued": 2}),
                         Event("progress", {"step": 2, "total": 3, "stage": "compiling", "queued": 2}),
                         Event("progress", {"step": 3, "total": 3}), *rest]
        return handle


class LoadFailsClient(ScriptedClient):
    """The request waits for the model load, which fails: model_unavailable."""

    def generate(self, *args, **kwargs):
        handle = super().generate(*args, **kwargs)
        handle.script = [handle.script[0], Event("progress", {"step": 0, "total": 0, "stage": "loading", "queued": 0}),
                         Event("error", {"code": "model_unavailable", "message": "the model is not loaded"})]
        return handle


def run(client):
    host = FakeHost({"body": smplx_skeleton()}, selected="body")
    seen: list[tuple[str, str, str, float]] = []
    panel = Panel(host, Settings(), lambda s: client, on_change=lambda p: seen.append((p.state.value, p.stage, p.status, p.progress)))
    panel.connect()
    host.pump(lambda: panel.state is State.CONNECTED)
    seen.clear()
    return host, panel, seen


def test_the_status_line_carries_the_stage_until_the_take_is_written():
    host, panel, seen = run(StagedClient())
    assert panel.generate("A person waves.")
    host.pump(lambda: panel.state is State.TAKE_WRITTEN)
    running = [(stage, status, progress) for state, stage, status, progress in seen if state == "generating"]
    assert ("queued behind 2 requests", "Waiting: queued behind 2 requests.", 0.0) in running
    assert ("the daemon is loading its model", "Waiting: the daemon is loading its model.", 0.0) in running  # no bar movement
    assert ("compiling this length, 2 more queued", "Denoising step 1/3 (compiling this length, 2 more queued)", pytest.approx(1 / 3)) in running
    assert ("", "Denoising step 3/3", 1.0) in running  # the compiled step: no stage any more
    stages = [stage for stage, _, _ in running]
    assert stages.index("queued behind 2 requests") < stages.index("the daemon is loading its model") < stages.index("compiling this length, 2 more queued")
    assert panel.stage == "" and panel.status.startswith("Wrote 2 take(s)")
    panel.close()


def test_cancel_and_failure_clear_the_stage():
    client = StagedClient(step_delay_s=0.05)
    host, panel, _ = run(client)
    assert panel.generate("A person waves.")
    host.pump(lambda: panel.stage.startswith("the daemon is loading"))
    panel.cancel()
    assert panel.state is State.CONNECTED and panel.stage == ""
    failing = LoadFailsClient()
    host, panel, seen = run(failing)
    assert panel.generate("A person waves.")
    host.pump(lambda: panel.state is State.ERROR)
    assert any(stage.startswith("the daemon is loading") for _, stage, _, _ in seen)
    assert panel.stage == "" and "model" in panel.error
    panel.close()
