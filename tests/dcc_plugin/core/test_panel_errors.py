"""The panel's error line (core/panel_errors.py): one short line, the details kept, a cause
the panel can act on, dismissable, cleared when the cause is gone; daemon warnings kept."""

from __future__ import annotations

import numpy as np
from dcc_fakes import FakeHost

from motionbridge.dcc_plugin.core.errors import summary
from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.rigs import skeleton_from_world
from motionbridge.rigs.smplx import smplx_skeleton

BLOB = skeleton_from_world(["root", "a", "b", "c"], [-1, 0, 1, 2], np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0], [0, 3, 0]], dtype=float))


def make(selected=None):
    host = FakeHost({"blob": BLOB, "body": smplx_skeleton()}, selected=selected)
    return host, Panel(host, Settings())


def test_summary_is_one_short_line_and_short_messages_stay_whole():
    long = ("rig 'Blob' cannot be mapped automatically: no bone found for hips, spine, head (closest preset 'mixamo'). "
            "Map its bones in the mapping editor (Map Bones), or choose a preset")
    assert summary(long) == "rig 'Blob' cannot be mapped automatically"
    assert summary("The daemon is restarting.") == "The daemon is restarting."
    cut = summary("x" * 200)
    assert len(cut) == 60 and cut.endswith("\u2026") and "\n" not in summary("a\nb")


def test_an_unmappable_rig_says_mapping_and_names_the_rig_without_a_terminal_command():
    host, panel = make()
    outcomes = []
    assert panel.detect("blob", on_done=outcomes.append)
    host.pump(lambda: outcomes)
    assert panel.error_cause == "mapping" and panel.error_rig == "blob"
    assert "mapping editor" in panel.error and "python -m" not in panel.error
    assert panel.error_summary.startswith("rig 'blob' cannot be mapped automatically") and len(panel.error_summary) <= 60
    panel.close()


def test_an_error_is_dismissed_or_cleared_when_its_cause_is_gone():
    host, panel = make()
    assert not panel.generate("A person waves.")  # not connected: refused at once
    assert panel.error and panel.error_cause == ""
    assert panel.clear_error() and not panel.error and panel.state is State.DISCONNECTED
    assert not panel.detect(None)  # nothing selected
    assert panel.error_cause == "target" and "no armature selected" in panel.error
    assert not panel.clear_error("mapping") and panel.error  # another cause: kept
    outcomes = []
    assert panel.detect("body", on_done=outcomes.append)  # the animator picked an armature
    host.pump(lambda: outcomes)
    assert not panel.error and panel.error_cause == "" and "body: smplx" in panel.status
    panel.close()


def test_a_failure_state_goes_back_when_dismissed():
    host, panel = make()
    panel._fail(RuntimeError("boom"))
    assert panel.state is State.ERROR and panel.error_summary == "RuntimeError: boom"
    panel.clear_error()
    assert panel.state is State.DISCONNECTED and panel.status == ""
    panel.close()


def test_daemon_warnings_are_kept_once_each():
    _, panel = make()
    panel.note_warnings(["prompt is 140 tokens, over the model's 128; the end was cut off: 'A person'..."])
    panel.note_warnings(["prompt is 140 tokens, over the model's 128; the end was cut off: 'A person'...", ""])
    assert panel.warnings == ("prompt is 140 tokens, over the model's 128; the end was cut off: 'A person'...",)
    panel.close()
