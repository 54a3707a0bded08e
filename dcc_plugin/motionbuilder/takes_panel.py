"""The MotionBridge tool's takes list: an FBList drawn from core.takes_list.TakesList, with
Audition, Rename (FBMessageBoxGetUserValue), Delete (FBMessageBox; MotionBuilder has no undo
for takes, so the question says so) and Export (FBFilePopup at `<take>.fbx`)."""

from __future__ import annotations

import os
from typing import Any, Callable

from pyfbsdk import (
    FBApplication,
    FBButton,
    FBFilePopup,
    FBFilePopupStyle,
    FBLabel,
    FBList,
    FBListStyle,
    FBMessageBox,
    FBMessageBoxGetUserValue,
    FBPopupInputType,
    FBSystem,
)

from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.takes import check_take_name
from motionbridge.dcc_plugin.core.takes_list import TakesList

TITLE = "MotionBridge"
EXPORT_FILTER = "*.fbx;*.glb;*.gltf;*.bvh;*.usd;*.usda;*.usdc;*.npz"


def playing_takes() -> list[str]:
    """The take that plays: the scene's current take."""
    current = FBSystem().CurrentTake
    return [current.Name] if current is not None else []


class MotionBuilderTakesList:
    def __init__(self, panel: Panel, show_error: Callable[[str], None]) -> None:
        self.panel = panel
        self.model = TakesList()
        self._show_error = show_error
        self.control = FBList()
        self.control.Style = FBListStyle.kFBVerticalList
        self.control.MultiSelect = True
        self.control.OnChange.Add(lambda _control, _event: self._selected())
        self.details = FBLabel()
        self.buttons: list[FBButton] = []
        for caption, action in (("Audition", self.audition), ("Rename", self.rename), ("Delete", self.delete),
                                ("Export...", self.export)):
            button = FBButton()
            button.Caption = caption
            button.OnClick.Add(self._on_click(action))
            self.buttons.append(button)

    @staticmethod
    def _on_click(action: Callable[[], None]) -> Callable[[Any, Any], None]:
        return lambda _control, _event: action()

    def refresh(self) -> None:
        """Redraw from the scene; rows and selection stay where they were (TakesList.sync)."""
        self.model.sync(self.panel.host.list_takes(), playing_takes())
        self.control.Items.Clear()
        for label in self.model.labels():
            self.control.Items.Add(label)
        # the SDK sets one selected item (ItemIndex); read back what the list now shows
        chosen = self.model.selected_indices()
        self.control.ItemIndex = chosen[0] if chosen else -1
        self._selected()

    def _selected(self) -> None:
        self.model.select_indices(i for i in range(len(self.control.Items)) if self.control.IsSelected(i))
        self._show_current()

    def _show_current(self) -> None:
        """An FBList has one hint, not one per item: it and the label under the list carry the
        selected take's full name, rig, seed and prompt."""
        text = self.model.hover_text()
        self.control.Hint = text
        self.details.Caption = text.replace("\n", "  |  ")

    def _current(self) -> str:
        row = self.model.current()
        if row is None:
            self._show_error("no take selected; click a take in the list first")
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
        button, typed = FBMessageBoxGetUserValue(TITLE, "New name:", self.model.rename_default(),
                                                 FBPopupInputType.kFBPopupString, "Rename", "Cancel")
        if button != 1:
            return
        try:
            cleaned = check_take_name(str(typed), {t.name for t in self.panel.host.list_takes()})
            self.panel.host.rename_take(name, cleaned)
        except (ValueError, RuntimeError) as exc:
            self._show_error(str(exc))
            return
        self.model.renamed(name, cleaned)
        self.refresh()

    def delete(self) -> None:
        question = self.model.delete_question(undoable=False)
        if not question:
            self._show_error("no take selected; click a take in the list first")
            return
        name = self._current()
        if FBMessageBox(TITLE, question, "Delete", "Cancel", None, 2) != 1:  # Cancel is the default
            return
        try:
            self.panel.host.delete_take(name)
        except RuntimeError as exc:
            self._show_error(str(exc))
        self.refresh()

    def export(self) -> None:
        names = list(self.model.selected)
        if not names:
            self._show_error("no takes selected; select the takes to export in the list")
            return
        refusal = self.panel.host.export_refusal()
        if refusal:
            self._show_error(refusal)
            return
        suggested = self.model.export_path(FBApplication().FBXFileName)
        popup = FBFilePopup()
        popup.Caption = "Export takes"
        popup.Style = FBFilePopupStyle.kFBFilePopupSave
        popup.Filter = EXPORT_FILTER
        popup.Path, popup.FileName = os.path.dirname(suggested), os.path.basename(suggested)
        if not popup.Execute():
            return
        from motionbridge.exporters import registry

        self.panel.export_takes(names, popup.FullFilename, registry.export)
