"""The MotionBridge tool's takes list: an FBList, with FBMessageBoxGetUserValue for Rename,
FBMessageBox for Delete (MotionBuilder has no undo for takes, so the question says so) and
FBFilePopup for Export; what the buttons do is core.takes_actions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

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
from motionbridge.dcc_plugin.core.takes_actions import TakesActions

TITLE = "MotionBridge"
EXPORT_FILTER = "*.fbx;*.glb;*.gltf;*.bvh;*.usd;*.usda;*.usdc;*.npz"


class MotionBuilderTakesList(TakesActions):
    undoable = False

    def __init__(self, panel: Panel, show_error: Callable[[str], None] | None = None) -> None:
        super().__init__(panel, show_error)
        self.control = FBList()
        self.control.Style = FBListStyle.kFBVerticalList
        self.control.MultiSelect = True
        self.control.OnChange.Add(lambda _control, _event: self._selected())
        self.details = FBLabel()
        self.buttons: list[FBButton] = []
        for caption, action in (("Audition", self.audition), ("Rename", self.rename), ("Delete", self.delete),
                                ("Export...", self.export_selected)):
            button = FBButton()
            button.Caption = caption
            button.OnClick.Add(self._on_click(action))
            self.buttons.append(button)

    @staticmethod
    def _on_click(action: Callable[[], None]) -> Callable[[Any, Any], None]:
        return lambda _control, _event: action()

    def playing_takes(self) -> Iterable[str]:
        """The take that plays: the scene's current take."""
        current = FBSystem().CurrentTake
        return [current.Name] if current is not None else []

    def draw(self) -> None:
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

    def ask_name(self, title: str, default: str) -> str | None:
        button, typed = FBMessageBoxGetUserValue(title, "New name:", default, FBPopupInputType.kFBPopupString, "OK", "Cancel")
        return str(typed) if button == 1 else None

    def confirm(self, question: str) -> bool:
        return FBMessageBox(TITLE, question, "Delete", "Cancel", None, 2) == 1  # Cancel is the default

    def scene_file(self) -> str:
        return FBApplication().FBXFileName

    def ask_export_path(self, suggested: str) -> str | None:
        popup = FBFilePopup()
        popup.Caption = "Export takes"
        popup.Style = FBFilePopupStyle.kFBFilePopupSave
        popup.Filter = EXPORT_FILTER
        popup.Path, popup.FileName = os.path.dirname(suggested), os.path.basename(suggested)
        return popup.FullFilename if popup.Execute() else None

    def export_selected(self) -> None:
        from motionbridge.exporters import registry

        self.export(registry.export)
