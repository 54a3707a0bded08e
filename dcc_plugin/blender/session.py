"""The one Panel (core state machine) of this Blender session, with its BlenderHost."""

from __future__ import annotations

import logging
from typing import Any

import bpy

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.prompt_assistant import PromptAssistant, Suggested, prompt_for_generate
from motionbridge.dcc_plugin.core.scene_jobs import SceneOutcome
from motionbridge.dcc_plugin.core.takes_list import TakeRow, stable_order

from . import mapping_ui, takes_io
from .host import BlenderHost, redraw

log = logging.getLogger(__name__)

_panel: Panel | None = None
_assistant: PromptAssistant | None = None


def panel() -> Panel:
    global _panel
    if _panel is None:
        host = BlenderHost()
        host.start()
        _panel = panel_actions.open_panel(host, on_change=_changed)
    return _panel


def assistant() -> PromptAssistant:
    global _assistant
    if _assistant is None:
        _assistant = PromptAssistant(panel())
    return _assistant


def shutdown() -> None:
    global _panel, _assistant
    if _assistant is not None:
        _assistant.close()
        _assistant = None
    if _panel is not None:
        _panel.close()
        _panel.host.stop()  # type: ignore[attr-defined]
        _panel = None


_opened_for_error = ""  # the error the mapping editor was last opened for (once per error)


_undo_pushed_for: list = []  # the takes of the last generation an undo step was made for


def _changed(p: Panel) -> None:
    global _opened_for_error
    sync_takes()
    if p.state is State.TAKE_WRITTEN and p.written and p.written is not (_undo_pushed_for[0] if _undo_pushed_for else None):
        _undo_pushed_for[:] = [p.written]
        _push_undo(f"MotionBridge: {len(p.written)} take(s)")
    props = getattr(bpy.context.scene, "motionbridge", None)
    if p.error_cause == "mapping" and p.error_rig and props is not None and p.error != _opened_for_error:
        _opened_for_error = p.error
        try:  # a rig that cannot be mapped opens the mapping editor on it
            mapping_ui.open_editor(props, p.error_rig, p.host.read_rig(p.error_rig))
        except Exception as exc:  # the error line already says what failed
            log.warning("mapping editor not opened: %s", exc)
    redraw()


def _push_undo(message: str) -> None:
    """An undo step after takes are written (they are written by a timer, not an operator):
    without it, undoing a later Delete would also take back the generation."""
    window = next(iter(bpy.context.window_manager.windows), None) if bpy.context.window_manager else None
    if window is None:  # background Blender: no undo history
        return
    with bpy.context.temp_override(window=window):
        bpy.ops.ed.undo_push(message=message)


def sync_takes() -> None:
    """Mirror the scene's takes into the UI list in a stable order: rows keep their place and
    selection, new takes are added at the end, the highlight stays on its take."""
    scene = bpy.context.scene
    props = getattr(scene, "motionbridge", None)
    if props is None or _panel is None:
        return
    infos = {info.name: info for info in _panel.host.list_takes()}
    playing = takes_io.playing_takes()
    rows = [item.name for item in props.takes]
    highlighted = rows[props.takes_index] if 0 <= props.takes_index < len(rows) else None
    selected = {item.name for item in props.takes if item.selected}
    order = stable_order(rows, infos)
    props.takes.clear()
    for name in order:
        row = TakeRow.of(infos[name], name in playing)
        item = props.takes.add()
        item.name, item.rig, item.prompt, item.seed = row.name, row.rig, row.prompt, row.seed
        item.selected = name in selected
        item.playing = row.playing
    if highlighted in order:
        props.takes_index = order.index(highlighted)
    elif props.takes_index >= len(order):
        props.takes_index = max(0, len(order) - 1)


def selected_armature(context: Any) -> Any:
    """The selected armature, or the armature of the selected mesh; None otherwise."""
    obj = context.view_layer.objects.active if context.view_layer else None
    if obj is not None and obj.type == "ARMATURE":
        return obj
    if obj is not None and obj.parent is not None and obj.parent.type == "ARMATURE":
        return obj.parent
    return None


def target_for(context: Any, follow: bool = True) -> str | None:
    """The armature Generate and Detect use: the selection when Follow selection is on (the
    Target field then follows it), else the Target field, else the selection."""
    props = context.scene.motionbridge
    chosen = selected_armature(context)
    if props.follow_selection and chosen is not None:
        if follow and props.target != chosen:
            props.target = chosen
        return chosen.name
    if props.target is not None:
        return props.target.name
    return chosen.name if chosen is not None else None


def selection_differs(context: Any) -> str:
    """The selected armature's name when Generate would animate another one, else ''."""
    props = context.scene.motionbridge
    chosen = selected_armature(context)
    if chosen is None or props.follow_selection or props.target is None or props.target == chosen:
        return ""
    return chosen.name


def target_chosen() -> None:
    """The animator picked an armature: an error about having none is over."""
    if _panel is not None:
        _panel.clear_error("target")


def show_detected(outcome: SceneOutcome) -> None:
    """Main thread, when a detection ends: show the target on the panel (or clear it; the
    panel's error line says why)."""
    props = getattr(bpy.context.scene, "motionbridge", None)
    if props is not None:
        props.detected = outcome.target.describe() if outcome.target is not None else ""
    redraw()


def start_rewrite(context: Any) -> bool:
    """Rewrite (and/or estimate the duration of) the typed prompt in the background; the answer
    fills the editable Rewritten prompt field and the Duration on the main thread."""
    props = context.scene.motionbridge

    def fill(got: Suggested) -> None:
        now = getattr(bpy.context.scene, "motionbridge", None)
        if now is None:
            return
        if now.assist_rewrite:
            now.rewritten_prompt = got.prompt
        if now.assist_duration and not got.fell_back:
            now.duration_s = got.duration_s
        redraw()

    return assistant().rewrite(props.prompt, props.duration_s, context.window_manager.motionbridge.prompter_url,
                               rewrite=props.assist_rewrite, estimate_duration=props.assist_duration, on_done=fill)


def prompt_to_send(context: Any) -> str | None:
    """What Generate sends (see prompt_for_generate); None: rewrite first."""
    props = context.scene.motionbridge
    return prompt_for_generate(props.prompt, props.rewritten_prompt, assistant().last, props.assist_rewrite)


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
        prompter_url=wm.prompter_url.strip(),
    )


def generate(context: Any, prompt: str, mode: str) -> bool:
    """Generate `prompt`, plain or directed (core/directing.py's modes): Extend and Regenerate
    work on the highlighted take; Loop and Follow curve go with plain Generate. False, with
    the reason on the panel, when nothing was sent."""
    props = context.scene.motionbridge
    take = props.takes[props.takes_index].name if 0 <= props.takes_index < len(props.takes) else ""
    curve = props.path_curve.name if props.path_curve is not None else ""
    return panel_actions.generate_with(panel(), settings_from_ui(context), prompt, mode, rig=target_for(context),
                                       take=take if mode in ("extend", "regenerate") else "", loop_on=props.loop, curve=curve)
