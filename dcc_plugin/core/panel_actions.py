"""What every DCC panel's Connect and Generate buttons do, given the values its widgets show.

Each adapter only reads its widgets into a dict of Settings fields; validating them, saving
them for next time (one settings file for every DCC) and reporting what went wrong is the
same in Blender, MotionBuilder and Maya, so it lives here once. Errors are shown through
`Panel.refuse` (the panel's error line and `host.report_error`); the functions return False
when they did not start anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import directing
from . import settings as user_settings
from .host import Host, HostError
from .panel import Panel
from .settings import Settings
from .takes_list import rig_of


def open_panel(host: Host, on_change: Callable[[Panel], None] | None = None, **panel_options: Any) -> Panel:
    """A Panel on the user's saved settings; what had to be ignored in the file is reported."""
    loaded, warnings = user_settings.load()
    panel = Panel(host, loaded, on_change=on_change, **panel_options)
    if warnings:
        host.report_error("; ".join(warnings))
    return panel


def chosen_settings(panel: Panel, fields: Mapping[str, Any]) -> Settings | None:
    """The panel's settings with the widgets' values; None, with the reason shown, when one
    of them is not valid."""
    try:
        return panel.settings.updated(**fields)
    except (TypeError, ValueError) as exc:
        panel.refuse(str(exc))
        return None


def connect(panel: Panel, fields: Mapping[str, Any]) -> bool:
    """Connect (in the background) with the widgets' settings and save them for next time."""
    chosen = chosen_settings(panel, fields)
    if chosen is None:
        return False
    try:
        panel.connect(chosen)
    except ValueError as exc:  # a generation is running
        panel.refuse(str(exc))
        return False
    try:
        user_settings.save(chosen)
    except OSError as exc:  # connecting goes on; only remembering the settings failed
        panel.refuse(f"the settings could not be saved to {user_settings.settings_path()}: {exc.strerror or exc}; "
                     f"set {user_settings.CONFIG_ENV} to a writable folder")
    return True


def generate(panel: Panel, fields: Mapping[str, Any], prompt: str, **target: Any) -> bool:
    """Generate `prompt` with the widgets' settings (which become the panel's); `target`
    passes rig / preset / mapping on to Panel.generate."""
    chosen = chosen_settings(panel, fields)
    if chosen is None:
        return False
    panel.settings = chosen
    return panel.generate(prompt, **target)


def generate_directed(panel: Panel, fields: Mapping[str, Any], prompt: str, read: Callable[[], Any], **target: Any) -> bool:
    """Generate a directed take: `read()` reads the scene now (core/directing.py: a builder,
    or None for a plain take); what it refuses is shown like any bad input, nothing sent."""
    chosen = chosen_settings(panel, fields)
    if chosen is None:
        return False
    panel.settings = chosen
    try:
        builder = read()
    except (ValueError, HostError, KeyError) as exc:
        panel.refuse(str(exc).strip("'\""))
        return False
    return panel.generate(prompt, direction=builder, **target)


def generate_with(panel: Panel, fields: Mapping[str, Any], prompt: str, mode: str = "plain", *, rig: str | None = None,
                  take: str = "", loop_on: bool = False, curve: str = "") -> bool:
    """Generate with the panel's directing choices (core/directing.py MODES): a plain take
    when none is made; Extend and Regenerate on `take`, keyed on that take's rig."""
    if mode == "plain" and not loop_on and not curve:
        return generate(panel, fields, prompt, rig=rig)
    if take and mode in ("extend", "regenerate"):
        info = next((t for t in panel.host.list_takes() if t.name == take), None)
        rig = (rig_of(info) if info is not None else "") or rig
    chosen = rig or panel.host.selected_rig()
    if not chosen:  # no armature: refused, with the scene's rigs listed, where every Generate is
        return generate(panel, fields, prompt, rig=rig)
    duration_s = float(fields.get("duration_s", panel.settings.duration_s))

    def read() -> Any:
        return directing.from_choices(panel.host, mode, str(chosen), take=take, loop_on=loop_on, curve=curve, duration_s=duration_s)

    return generate_directed(panel, fields, prompt, read, rig=chosen)
