"""The takes list of the MotionBuilder and Maya panels, minus the host's widgets.

The adapters draw `rows` as plain strings (an FBList, a textScrollList) and ask this class
what to show and what to suggest; every decision lives here so it is tested once:

- a stable order: rows keep their place, new takes go to the end, the selection stays on
  its takes (a finished generation never moves what the animator has chosen);
- a label with the full name, the rig and seed, and a marker on the take that plays;
- a hover text with the full name, rig, seed and prompt;
- Rename starts from the current name; Delete asks first (saying whether undo brings it
  back); Export suggests `<take>.<ext>` beside the scene file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .host import TakeInfo

PLAYING = ">"  # ASCII: both hosts draw list items in their own fonts
RIG_KEY = "rig"  # the adapters store the rig a take was keyed on in its metadata
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def rig_of(info: TakeInfo) -> str:
    return info.rig or str(info.metadata.get(RIG_KEY, ""))


def stable_order(shown: Iterable[str], names: Iterable[str]) -> list[str]:
    """The list's next order: names already shown keep their place, the ones gone drop out,
    new ones follow in the scene's order (every DCC's takes list goes through this)."""
    shown, names = list(shown), list(names)
    now, before = set(names), set(shown)
    return [n for n in shown if n in now] + [n for n in names if n not in before]


@dataclass(frozen=True)
class TakeRow:
    name: str
    rig: str
    seed: int
    prompt: str
    playing: bool

    @classmethod
    def of(cls, info: TakeInfo, playing: bool) -> TakeRow:
        try:
            seed = int(info.metadata.get("seed", 0))
        except (TypeError, ValueError):
            seed = 0
        return cls(info.name, rig_of(info), seed, str(info.metadata.get("prompt", "")), playing)

    def label(self) -> str:
        """`> name   [rig]  s7`: the full name (never cut here), rig, seed, play marker."""
        rig = f"   [{self.rig}]" if self.rig else ""
        return f"{PLAYING if self.playing else ' '} {self.name}{rig}  s{self.seed}"

    def hover_text(self) -> str:
        rig = self.rig or "unknown rig"
        return f"{self.name}\nRig {rig}, seed {self.seed}\n{self.prompt}".rstrip()


class TakesList:
    """The rows shown and the rows selected, by take name (indices change; names do not)."""

    def __init__(self) -> None:
        self.rows: list[TakeRow] = []
        self.selected: list[str] = []  # in the order the rows show them

    def sync(self, infos: Iterable[TakeInfo], playing: Iterable[str]) -> list[TakeRow]:
        """Mirror the scene's takes: known rows keep their place, new takes are appended
        (in the scene's order), deleted ones drop out with their selection."""
        by_name = {info.name: info for info in infos}
        now_playing = set(playing)
        order = stable_order((row.name for row in self.rows), by_name)
        self.rows = [TakeRow.of(by_name[n], n in now_playing) for n in order]
        self.selected = [n for n in order if n in set(self.selected)]
        return self.rows

    def renamed(self, old: str, new: str) -> None:
        """A take was renamed: it keeps its row and its selection (a plain sync would drop
        the old name and append the new one at the end)."""
        self.rows = [row if row.name != old else TakeRow(new, row.rig, row.seed, row.prompt, row.playing) for row in self.rows]
        self.selected = [new if n == old else n for n in self.selected]

    def labels(self) -> list[str]:
        return [row.label() for row in self.rows]

    def select_indices(self, indices: Iterable[int]) -> None:
        """What the host's list reports as selected (0-based); out-of-range indices are ignored."""
        chosen = {i for i in indices if 0 <= i < len(self.rows)}
        self.selected = [row.name for i, row in enumerate(self.rows) if i in chosen]

    def selected_indices(self) -> list[int]:
        chosen = set(self.selected)
        return [i for i, row in enumerate(self.rows) if row.name in chosen]

    def current(self) -> TakeRow | None:
        """The take Audition, Rename and Delete act on: the first selected row."""
        return next((row for row in self.rows if self.selected and row.name == self.selected[0]), None)

    def hover_text(self) -> str:
        row = self.current()
        return row.hover_text() if row is not None else "Select a take: its full name, rig, seed and prompt show here"

    def rename_default(self) -> str:
        """What the Rename dialog starts from: the current name, to edit rather than retype."""
        row = self.current()
        return row.name if row is not None else ""

    def delete_question(self, undoable: bool) -> str:
        """The confirmation text; empty when nothing is selected (nothing to ask about)."""
        row = self.current()
        if row is None:
            return ""
        after = "Undo (Ctrl+Z) brings it back." if undoable else "This cannot be undone."
        return f"Delete take {row.name!r}? {after}"

    def export_path(self, scene_file: str, extension: str = ".fbx") -> str:
        """`<take><extension>` beside the scene file (or in the current folder): the first
        selected take, or `takes` with none selected."""
        name = _NOT_IN_FILE_NAMES.sub("_", self.selected[0]) if self.selected else "takes"
        folder = os.path.dirname(scene_file) if scene_file else os.getcwd()
        extension = extension if extension.startswith(".") else "." + extension
        return os.path.join(folder, (name.strip(" .") or "takes") + extension)
