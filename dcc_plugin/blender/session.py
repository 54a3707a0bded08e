"""The one Panel (core state machine) of this Blender session, with its BlenderHost."""

from __future__ import annotations

from typing import Any

import bpy

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.scene_jobs import SceneOutcome

from .host import BlenderHost, redraw

_panel: Panel | None = None


def panel() -> Panel:
    global _panel
    if _panel is None:
        host = BlenderHost()
        host.start()
        _panel = panel_actions.open_panel(host, on_change=_changed)
    return _panel


def shutdown() -> None:
    global _panel
    if _panel is not None:
        _panel.close()
        _panel.host.stop()  # type: ignore[attr-defined]
        _panel = None


def _changed(p: Panel) -> None:
    sync_takes()
    redraw()


def sync_takes() -> None:
    """Mirror the scene's takes into the UI list, keeping each row's selection."""
    scene = bpy.context.scene
    props = getattr(scene, "motionbridge", None)
    if props is None or _panel is None:
        return
    selected = {item.name for item in props.takes if item.selected}
    props.takes.clear()
    for info in _panel.host.list_takes():
        item = props.takes.add()
        item.name = info.name
        item.rig = info.rig
        item.prompt = str(info.metadata.get("prompt", ""))
        item.seed = int(info.metadata.get("seed", 0))
        item.selected = info.name in selected


def show_detected(outcome: SceneOutcome) -> None:
    """Main thread, when a detection ends: show the target on the panel (or clear it; the
    panel's error line says why)."""
    props = getattr(bpy.context.scene, "motionbridge", None)
    if props is not None:
        props.detected = outcome.target.describe() if outcome.target is not None else ""
    redraw()


def settings_from_ui(context: Any) -> dict[str, Any]:
    props = context.scene.motionbridge
    wm = context.window_manager.motionbridge
    return dict(
        endpoint=wm.endpoint.strip(),
        server_key_path=bpy.path.abspath(wm.server_key_path) if wm.server_key_path else "",
        client_key_path=bpy.path.abspath(wm.client_key_path) if wm.client_key_path else "",
        duration_s=float(props.duration_s),
        variations=int(props.variations),
        seed_start=int(props.seed_start),
        cfg=float(props.cfg),
        model=props.model if props.model != "DEFAULT" else "",
        preview_every=int(props.preview_every),
        root_motion=bool(props.root_motion),
        foot_lock=bool(props.foot_lock),
        rig_preset=props.preset.strip(),
    )
