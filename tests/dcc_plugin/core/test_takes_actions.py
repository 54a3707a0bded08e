"""The takes list's buttons (core.takes_actions) on the fake host, with scripted dialogs:
what is asked, in which order, and what the scene is then asked to do."""

from __future__ import annotations

from dcc_fakes import FakeHost, random_smplx_clip

from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.dcc_plugin.core.takes_actions import NOTHING_SELECTED, TakesActions
from motionbridge.rigs.smplx import smplx_skeleton


class ScriptedDialogs(TakesActions):
    """Dialog answers are queued by the test; every question asked is recorded."""

    def __init__(self, panel, undoable=False, answers=(), errors_on_panel=False):
        self.errors: list[str] = []
        super().__init__(panel, None if errors_on_panel else self.errors.append)
        self.undoable = undoable
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []
        self.undo_steps: list[str] = []
        self.drawn: list[list[str]] = []

    def playing_takes(self):
        return [self.panel.host.audition] if getattr(self.panel.host, "audition", None) else []

    def draw(self):
        self.drawn.append(self.model.labels())

    def ask_name(self, title, default):
        self.asked.append(("name", default))
        return self.answers.pop(0)

    def confirm(self, question):
        self.asked.append(("confirm", question))
        return self.answers.pop(0)

    def ask_export_path(self, suggested):
        self.asked.append(("file", suggested))
        return self.answers.pop(0)

    def in_undo_step(self, what, fn):
        self.undo_steps.append(what)
        fn()

    def scene_file(self):
        return "/shots/s010.ma"


def setup(names=("mb_walk_s1", "mb_run_s2"), **kw):
    host = FakeHost({"body": smplx_skeleton()}, selected="body")
    for i, name in enumerate(names):
        host.apply_take("body", random_smplx_clip(i), name, {"seed": i, "prompt": name})
    panel = Panel(host, Settings(), lambda s: None)
    actions = ScriptedDialogs(panel, **kw)
    actions.refresh()
    return host, panel, actions


def test_buttons_with_nothing_selected_say_so_and_ask_nothing():
    host, panel, actions = setup()
    for press in (actions.audition, actions.rename, actions.delete):
        press()
    assert actions.errors == [NOTHING_SELECTED] * 3 and actions.asked == [] and len(host.takes) == 2
    panel.close()


def test_rename_starts_from_the_name_and_keeps_the_row():
    host, panel, actions = setup(answers=["hero_walk", None, "mb_run_s2"])
    actions.model.select_indices([0])
    actions.rename()
    assert actions.asked == [("name", "mb_walk_s1")]
    assert [r.name for r in actions.model.rows] == ["hero_walk", "mb_run_s2"] and "hero_walk" in host.takes
    actions.rename()  # cancelled: nothing changes
    actions.rename()  # a name that is taken: one line, nothing renamed
    assert actions.asked[1:] == [("name", "hero_walk")] * 2
    assert sorted(host.takes) == ["hero_walk", "mb_run_s2"] and "already exists" in actions.errors[-1]
    panel.close()


def test_delete_asks_first_and_runs_as_one_undo_step():
    host, panel, actions = setup(undoable=True, answers=[False, True])
    actions.model.select_indices([1])
    actions.delete()  # declined
    assert sorted(host.takes) == ["mb_run_s2", "mb_walk_s1"] and actions.undo_steps == []
    actions.delete()
    assert [kind for kind, _ in actions.asked] == ["confirm", "confirm"] and "Ctrl+Z" in actions.asked[0][1]
    assert list(host.takes) == ["mb_walk_s1"] and actions.undo_steps == ["MotionBridge: delete take mb_run_s2"]
    assert [r.name for r in actions.model.rows] == ["mb_walk_s1"] and actions.model.selected == []
    panel.close()


def test_audition_plays_the_take_and_marks_it():
    host, panel, actions = setup()
    host.audition = ""
    host.audition_take = lambda name: setattr(host, "audition", name)
    actions.model.select_indices([1])
    actions.audition()
    assert host.timeline == (1, 12, 30.0)
    assert actions.drawn[-1][1].startswith("> mb_run_s2") and not actions.drawn[-1][0].startswith(">")
    panel.close()


def test_export_suggests_the_take_file_and_writes_the_selected_takes(tmp_path):
    out = tmp_path / "chosen.npz"
    host, panel, actions = setup(answers=[None, str(out)])
    written = []
    actions.model.select_indices([1, 0])
    actions.export(lambda path, clips, names: written.append((path, list(names))), ".npz")  # cancelled
    actions.export(lambda path, clips, names: written.append((path, list(names))), ".npz")
    assert actions.asked == [("file", "/shots/mb_walk_s1.npz")] * 2
    host.pump(lambda: panel.scene_jobs.pending == 0)
    assert written == [(str(out), ["mb_walk_s1", "mb_run_s2"])] and panel.error == ""
    panel.close()


def test_export_from_a_host_that_cannot_read_takes_refuses_before_the_dialog():
    host, panel, actions = setup()
    host.export_refusal = lambda: "exporting takes from fake is not supported yet"
    actions.model.select_indices([0])
    actions.export(lambda *a: None)
    assert actions.errors == ["exporting takes from fake is not supported yet"] and actions.asked == []
    panel.close()


def test_without_its_own_error_display_the_list_uses_the_panels_error_line():
    """Maya's and MotionBuilder's lists: an error shows as the panel's one line, with Details
    and Dismiss, and Dismiss clears it."""
    host, panel, actions = setup(errors_on_panel=True)
    actions.rename()  # nothing selected
    assert panel.error == NOTHING_SELECTED and host.errors == [NOTHING_SELECTED] and actions.errors == []
    assert panel.clear_error() and panel.error == "" and panel.error_summary == ""
    panel.close()
