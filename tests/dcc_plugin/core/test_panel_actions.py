"""Connect and Generate as every DCC panel's buttons run them (core.panel_actions): the
widgets' values are checked, saved for next time, and what goes wrong is shown once."""

from __future__ import annotations

import json

import pytest
from dcc_fakes import FakeHost, ScriptedClient

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core import settings as st
from motionbridge.dcc_plugin.core.panel import State
from motionbridge.rigs.smplx import smplx_skeleton


@pytest.fixture
def cfg_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(st.CONFIG_ENV, str(tmp_path / "cfg"))
    return tmp_path / "cfg"


def open_with(client=None):
    host = FakeHost({"body": smplx_skeleton()}, selected="body")
    client = client or ScriptedClient()
    panel = panel_actions.open_panel(host, client_factory=lambda s: client)
    return host, client, panel


def test_open_panel_uses_the_saved_settings_and_reports_what_it_ignored(cfg_dir):
    cfg_dir.mkdir()
    (cfg_dir / "plugin.json").write_text(json.dumps({"endpoint": "tcp://gpu-box:7000", "cfg": 99}))
    host, _, panel = open_with()
    assert panel.settings.endpoint == "tcp://gpu-box:7000" and panel.settings.cfg == 5.0
    assert len(host.errors) == 1 and "cfg" in host.errors[0]
    panel.close()


def test_connect_checks_saves_and_connects(cfg_dir):
    host, client, panel = open_with()
    assert not panel_actions.connect(panel, {"endpoint": "localhost:7719"})
    assert "tcp://HOST:PORT" in panel.error and host.errors and panel.state is State.DISCONNECTED
    assert not (cfg_dir / "plugin.json").exists()  # nothing saved from a refused value
    assert panel_actions.connect(panel, {"endpoint": "tcp://127.0.0.1:7800", "variations": 3})
    host.pump(lambda: panel.state is State.CONNECTED)
    saved, warnings = st.load()
    assert saved.endpoint == "tcp://127.0.0.1:7800" and saved.variations == 3 and warnings == []
    panel.close()


def test_connect_goes_on_when_the_settings_cannot_be_saved(cfg_dir):
    cfg_dir.parent.mkdir(parents=True, exist_ok=True)
    cfg_dir.write_text("a file where the settings folder should be")  # fails for root too
    host, _, panel = open_with()
    assert panel_actions.connect(panel, {"endpoint": "tcp://127.0.0.1:7801"})
    assert "could not be saved" in host.errors[-1] and st.CONFIG_ENV in host.errors[-1]
    host.pump(lambda: panel.state is State.CONNECTED)
    panel.close()


def test_connect_while_generating_is_refused_not_raised(cfg_dir):
    client = ScriptedClient(step_delay_s=0.05)
    host, _, panel = open_with(client)
    assert panel_actions.connect(panel, {})
    host.pump(lambda: panel.state is State.CONNECTED)
    assert panel_actions.generate(panel, {"duration_s": 1.0}, "A person waves.")
    assert not panel_actions.connect(panel, {})
    assert "cancel it before reconnecting" in panel.error
    panel.cancel()
    panel.close()


def test_generate_takes_the_widgets_values(cfg_dir):
    host, client, panel = open_with()
    assert panel_actions.connect(panel, {})
    host.pump(lambda: panel.state is State.CONNECTED)
    assert not panel_actions.generate(panel, {"duration_s": -1.0}, "A person waves.")
    assert "duration" in panel.error and client.requests == []
    assert not panel_actions.generate(panel, {"colour": "red"}, "A person waves.")
    assert "unknown setting" in panel.error
    assert panel_actions.generate(panel, {"duration_s": 2.0, "variations": 1, "cfg": 3.0}, "A person waves.", rig="body")
    host.pump(lambda: panel.state is State.TAKE_WRITTEN)
    assert client.requests[0]["duration_s"] == 2.0 and client.requests[0]["cfg"] == 3.0
    assert panel.settings.cfg == 3.0 and len(host.takes) == 1
    panel.close()
