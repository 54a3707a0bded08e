"""The Blender panel's prompt assistant in real headless bpy (assist_scenario.py), against the
test prompter (a real OpenAI-compatible HTTP server process with fixed answers) and a real
toy daemon: the rewrite is shown and editable before anything is generated, Generate sends
the edited text (the daemon echoes it into the take), and a prompter that is down leaves a
warning on the error line while the typed prompt is generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "daemon"))
sys.path.insert(0, str(HERE))
import prompter_server  # noqa: E402
from daemon_proc import DaemonProcess  # noqa: E402
from scenario_report import read_report  # noqa: E402

TYPED = "person jumps after they runs"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_assist")
    daemon = DaemonProcess("--engine-factory", "toy_engine:make_engine", "--engine-option", "step_s=0.01")
    try:
        with prompter_server.running() as prompter:
            env = {**os.environ, "MOTIONBRIDGE_CONFIG_DIR": str(out / "config"), "MOTIONBRIDGE_HOME": str(out / "home")}
            proc = subprocess.run([sys.executable, str(HERE / "assist_scenario.py"), daemon.endpoint, prompter, str(out)],
                                  capture_output=True, text=True, env=env, timeout=300)
    finally:
        daemon.stop()
    return read_report(out, proc.returncode, proc.stderr)


def test_the_panel_draws_the_toggles_and_the_rewrite_while_on(report):
    assert report["drawn_off"] == ["assist_rewrite", "assist_duration"]
    assert report["drawn_on"] == ["assist_rewrite", "assist_duration", "prompter_url", "motionbridge.prompt_rewrite:Rewrite:on",
                                  "rewritten_prompt"]
    assert "motionbridge.prompt_rewrite:Rewriting...:off" in report["drawn_pending"]  # no second ask while one runs


def test_generate_shows_the_rewrite_before_sending_anything(report):
    assert report["connected"] == "connected"
    assert report["first_generate"] == "{'CANCELLED'}" and report["pending_after_generate"] is True
    assert report["state_after_first_generate"] == "connected"  # nothing went to the daemon
    assert report["rewritten"] == f"Refined: {TYPED}" and report["error_after_rewrite"] == ""
    assert report["duration_s"] == pytest.approx(96 / 30, abs=1e-3)  # Estimate duration: the prompter's 96 frames


def test_generate_sends_the_edited_rewrite(report):
    assert report["edited_generate"] == "{'FINISHED'}" and report["edited_state"] == "take_written", report["edited_status"]
    assert report["edited_sent"] == [f"Refined: {TYPED} Then the person waves."]


def test_a_prompter_that_is_down_warns_and_the_typed_prompt_is_generated(report):
    assert report["down_rewrite"] == "{'FINISHED'}" and report["pending_after_rewrite"] is True
    assert report["down_error"] == "prompt assistant unavailable, using the prompt as typed"  # the one line; Details say why
    assert "cannot reach the prompter at http://127.0.0.1:9/v1/chat/completions" in report["down_error_full"]
    assert report["down_field"] == "A person sits down on a chair."
    assert report["down_duration_s"] == pytest.approx(96 / 30, abs=1e-3)  # kept, not estimated
    assert report["down_state"] == "take_written", report["down_status"]
    assert report["down_sent"] == ["A person sits down on a chair."]


def test_rewrite_with_both_toggles_off_says_why(report):
    assert report["off_rewrite"].startswith("ERROR") and "turn on Rewrite prompt or Estimate duration first" in report["off_rewrite"]
