"""What the takes list's buttons do, written once for the MotionBuilder and Maya panels.

An adapter subclasses TakesActions and supplies only its host's widgets and dialogs (draw the
rows, ask for a name, ask a yes/no question, ask for a file); the order of questions, what is
checked and what the scene is asked to do live here, tested with the fake host.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

from .host import HostError
from .panel import Panel
from .scene_jobs import TakeWriter
from .takes import check_take_name
from .takes_list import TakesList

NOTHING_SELECTED = "no take selected; click a take in the list first"
NOTHING_TO_EXPORT = "no takes selected; select the takes to export in the list"


class TakesActions(abc.ABC):
    undoable = False  # whether the host's undo brings a deleted take back

    def __init__(self, panel: Panel, show_error: Callable[[str], None] | None = None) -> None:
        """`show_error` defaults to the panel's error line (Panel.refuse), so the list's
        errors get the panel's Details and Dismiss like any other."""
        self.panel = panel
        self.model = TakesList()
        self._show_error = show_error if show_error is not None else panel.refuse

    # -- the host's widgets and dialogs ---------------------------------------------------
    @abc.abstractmethod
    def playing_takes(self) -> Iterable[str]: ...

    @abc.abstractmethod
    def draw(self) -> None:
        """Show `self.model`'s labels, selection and hover text."""

    @abc.abstractmethod
    def ask_name(self, title: str, default: str) -> str | None:
        """The typed name, or None when cancelled."""

    @abc.abstractmethod
    def confirm(self, question: str) -> bool: ...

    @abc.abstractmethod
    def ask_export_path(self, suggested: str) -> str | None:
        """The chosen file, starting from `suggested`; None when cancelled."""

    def in_undo_step(self, what: str, fn: Callable[[], None]) -> None:
        """Run `fn` as one undo step where the host has one."""
        fn()

    def scene_file(self) -> str:
        return ""

    # -- the buttons ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw from the scene; rows and selection stay where they were (TakesList.sync)."""
        self.model.sync(self.panel.host.list_takes(), self.playing_takes())
        self.draw()

    def _current(self) -> str:
        row = self.model.current()
        if row is None:
            self._show_error(NOTHING_SELECTED)
            return ""
        return row.name

    def audition(self) -> None:
        name = self._current()
        if not name:
            return
        host = self.panel.host
        host.audition_take(name)
        info = next((t for t in host.list_takes() if t.name == name), None)
        if info is not None:
            host.set_timeline(info.frame_start, info.frame_end, info.fps)
        self.refresh()

    def rename(self) -> None:
        name = self._current()
        if not name:
            return
        typed = self.ask_name("Rename take", self.model.rename_default())
        if typed is None:
            return
        try:
            cleaned = check_take_name(typed, {t.name for t in self.panel.host.list_takes()})
            self.panel.host.rename_take(name, cleaned)
        except (ValueError, HostError) as exc:
            self._show_error(str(exc))
            return
        self.model.renamed(name, cleaned)
        self.refresh()

    def delete(self) -> None:
        name = self._current()
        if not name or not self.confirm(self.model.delete_question(self.undoable)):
            return
        try:
            self.in_undo_step(f"MotionBridge: delete take {name}", lambda: self.panel.host.delete_take(name))
        except HostError as exc:
            self._show_error(str(exc))
        self.refresh()

    def export(self, write: TakeWriter, extension: str = ".fbx") -> None:
        """`write` is the exporters' registry.export (core does not import the exporters)."""
        names = list(self.model.selected)
        if not names:
            self._show_error(NOTHING_TO_EXPORT)
            return
        refusal = self.panel.host.export_refusal()
        if refusal:
            self._show_error(refusal)
            return
        path = self.ask_export_path(self.model.export_path(self.scene_file(), extension))
        if not path:
            return
        self.panel.export_takes(names, path, write)
