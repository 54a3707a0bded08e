"""The Blender panel shows the running request's stage (stage_scenario.py in real headless
bpy): against a real daemon whose model is still loading (the daemon tests' toy engine,
blocked on a flag file), the status area draws the bar and a line 'The daemon is loading its
model'; the take is written once the load is done, and the line is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
HERE = Path(__file__).resolve().parent
DAEMON_TESTS = HERE.parents[1] / "daemon"
sys.path.insert(0, str(DAEMON_TESTS))
sys.path.insert(0, str(HERE))
from daemon_proc import DaemonProcess  # noqa: E402
from scenario_report import read_report  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("blender_stage")
    stuck = out / "model-still-loading"
    stuck.touch()
    old = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(DAEMON_TESTS / "server"), old]).strip(os.pathsep)  # hanging_engine
    try:
        daemon = DaemonProcess("--engine-factory", "hanging_engine:make_engine", "--engine-option", f"stuck_while={stuck}",
                               "--load-timeout", "300", wait_ready=False)
    finally:
        os.environ["PYTHONPATH"] = old
    try:
        env = {**os.environ, "MOTIONBRIDGE_CONFIG_DIR": str(out / "config")}
        proc = subprocess.run([sys.executable, str(HERE / "stage_scenario.py"), daemon.endpoint, str(stuck), str(out)],
                              capture_output=True, text=True, env=env, timeout=300)
    finally:
        daemon.stop()
    return read_report(out, proc.returncode, proc.stderr)


def test_the_status_area_says_the_daemon_is_loading_its_model(report):
    assert report["connected"] == "connected" and report["generate"] == "{'FINISHED'}"
    waiting = report["waiting"]
    assert waiting["state"] == "generating" and waiting["stage"] == "the daemon is loading its model"
    assert waiting["drawn"] == [["progress", 0.0, "Waiting: the daemon is loading its model."],
                                ["label", "The daemon is loading its model", "TIME"]]


def test_the_line_is_gone_once_the_take_is_written(report):
    done = report["done"]
    assert done["state"] == "take_written" and done["stage"] == ""
    assert done["drawn"] == [["label", done["status"], "NONE"]] and done["status"].startswith("Wrote 1 take")
