"""StatusCallbackHost: the progress/error reporting the Maya and MotionBuilder hosts share."""

from __future__ import annotations

from dcc_fakes import FakeHost

from motionbridge.dcc_plugin.core.host import Host, StatusCallbackHost


def test_reports_reach_the_status_callback():
    seen = []
    # the abstract scene methods are irrelevant here: leave them unimplemented but instantiable
    host_type = type("OnlyStatus", (StatusCallbackHost,), {name: lambda *a, **k: None for name in Host.__abstractmethods__
                                                           if name not in ("report_progress", "report_error")})
    host = host_type(lambda fraction, message, error: seen.append((fraction, message, error)))
    host.report_progress(0.25, "sampling 12/50")
    host.report_error("no armature selected: select one or pick a preset")
    assert seen == [(0.25, "sampling 12/50", ""), (0.0, "", "no armature selected: select one or pick a preset")]
    host_type().report_progress(0.5, "nobody listens")  # no callback: nothing to call, no error


def test_only_hosts_that_read_takes_back_can_export():
    abstract = {name: lambda *a, **k: None for name in Host.__abstractmethods__}
    no_read_back = type("NoReadBack", (Host,), {**abstract, "name": "maya"})()
    assert no_read_back.export_refusal() == "exporting takes from maya is not supported yet; export from Blender or the command line"
    assert FakeHost({}).export_refusal() == ""
