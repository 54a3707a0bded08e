"""Run inside bpy (a subprocess of test_blender_assist.py): the panel's prompt assistant
against the test prompter (tests/daemon/prompter_server.py) and a toy daemon. Rewrite fills
the editable field, Generate sends the edited text; a prompter that is down leaves a warning
and the typed prompt.

argv: DAEMON_ENDPOINT PROMPTER_URL OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario_report import pump, run_and_report
from scene_builders import MIXAMO, build_armature

import motionbridge.dcc_plugin.blender as extension
from motionbridge.dcc_plugin.blender import session, ui
from motionbridge.dcc_plugin.core.panel import State

ENDPOINT, PROMPTER, OUT = sys.argv[1], sys.argv[2], Path(sys.argv[3])
report: dict = {}


def op(fn, **kwargs):
    try:
        return str(fn(**kwargs))
    except RuntimeError as exc:  # the operator reported an error: that is its message
        return f"ERROR {exc}"


def generated_prompts(before: set[str]) -> list[str]:
    """The prompts of the takes written since `before`, as the daemon reported them back."""
    return [str(t.metadata.get("prompt")) for t in session.panel().host.list_takes() if t.name not in before]


def generate_and_wait(key: str) -> None:
    panel = session.panel()
    before = {t.name for t in panel.host.list_takes()}
    report[f"{key}_generate"] = op(bpy.ops.motionbridge.generate)
    pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR))
    report[f"{key}_state"], report[f"{key}_status"] = panel.state.value, panel.status
    report[f"{key}_sent"] = generated_prompts(before)


class Layout:
    """Records what a draw function puts in the panel; a property or operator Blender does not
    know fails here as it would in the UI."""

    def __init__(self, drawn: list) -> None:
        self.drawn, self.enabled = drawn, True

    def row(self, **_):
        return Layout(self.drawn)

    def prop(self, data, name, **_):
        if name not in data.bl_rna.properties:
            raise AttributeError(f"no property {name!r} on {data}")
        self.drawn.append(name)

    def operator(self, idname, text="", **_):
        group, name = idname.split(".")
        getattr(getattr(bpy.ops, group), name).get_rna_type()  # raises for an unknown operator
        self.drawn.append(f"{idname}:{text}:{'on' if self.enabled else 'off'}")


def drawn_assistant(props, user) -> list:
    drawn: list = []
    ui._draw_assistant(Layout(drawn), props, user)
    return drawn


def main():
    extension.register()
    props = bpy.context.scene.motionbridge
    user = bpy.context.window_manager.motionbridge
    props.target = build_armature("MixamoHero", MIXAMO, prefix="mixamorig:")
    props.variations, props.duration_s, props.preview_every = 1, 5.0, 0
    panel, assistant = session.panel(), session.assistant()
    user.endpoint = ENDPOINT
    op(bpy.ops.motionbridge.connect)
    pump(lambda: panel.state in (State.CONNECTED, State.ERROR))
    report["connected"] = panel.state.value

    # rewrite on, never rewritten: Generate asks for the rewrite first and sends nothing
    report["drawn_off"] = drawn_assistant(props, user)
    props.assist_rewrite, props.assist_duration = True, True
    user.prompter_url = f"{PROMPTER}/ok/v1"
    props.prompt = "person jumps after they runs"
    report["first_generate"] = op(bpy.ops.motionbridge.generate)
    report["pending_after_generate"] = assistant.pending  # the HTTP answer waits for the main thread
    report["state_after_first_generate"] = panel.state.value
    report["drawn_pending"] = drawn_assistant(props, user)
    pump(lambda: not assistant.pending)
    report["rewritten"], report["duration_s"] = props.rewritten_prompt, round(props.duration_s, 3)
    report["error_after_rewrite"] = panel.error
    report["drawn_on"] = drawn_assistant(props, user)

    # the animator edits the rewrite; Generate sends the edited text
    props.rewritten_prompt = report["rewritten"] + " Then the person waves."
    report["edited"] = props.rewritten_prompt
    generate_and_wait("edited")

    # the prompter is down: the Rewrite button leaves a warning and the typed prompt
    user.prompter_url = "http://127.0.0.1:9/v1"  # nothing listens there
    props.prompt = "A person sits down on a chair."
    report["down_rewrite"] = op(bpy.ops.motionbridge.prompt_rewrite)
    report["pending_after_rewrite"] = assistant.pending
    pump(lambda: not assistant.pending)
    report["down_error"], report["down_error_full"], report["down_field"] = panel.error_summary, panel.error, props.rewritten_prompt
    report["down_duration_s"] = round(props.duration_s, 3)
    generate_and_wait("down")

    # both toggles off: Rewrite says why it does nothing
    props.assist_rewrite, props.assist_duration = False, False
    report["off_rewrite"] = op(bpy.ops.motionbridge.prompt_rewrite)
    extension.unregister()


run_and_report(main, report, OUT)
