"""The Maya panel's takes list: a textScrollList, with promptDialog for Rename, confirmDialog
for Delete (run in one undo chunk, so Ctrl+Z brings the take back) and fileDialog2 for Export;
what the buttons do is core.takes_actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from maya import cmds

from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.takes_actions import TakesActions

from . import scene

TITLE = "MotionBridge"
EXPORT_FILTER = "FBX (*.fbx);;glTF binary (*.glb);;glTF (*.gltf);;BVH (*.bvh);;USD (*.usd *.usda *.usdc);;NumPy (*.npz)"


class MayaTakesList(TakesActions):
    undoable = True

    def __init__(self, panel: Panel, show_error: Callable[[str], None] | None = None) -> None:
        super().__init__(panel, show_error)
        cmds.text(label="Takes", align="left")
        self.control = cmds.textScrollList(allowMultiSelection=True, numberOfRows=6,
                                           selectCommand=lambda *_: self._selected(),
                                           doubleClickCommand=lambda *_: self.audition())
        self.details = cmds.text(label="", align="left")
        cmds.rowLayout(numberOfColumns=4)
        cmds.button(label="Audition", command=lambda *_: self.audition())
        cmds.button(label="Rename", command=lambda *_: self.rename())
        cmds.button(label="Delete", command=lambda *_: self.delete())
        cmds.button(label="Export...", command=lambda *_: self.export_selected())
        cmds.setParent("..")
        self.refresh()

    def playing_takes(self) -> Iterable[str]:
        return scene.playing_takes()

    def draw(self) -> None:
        cmds.textScrollList(self.control, edit=True, removeAll=True)
        for label in self.model.labels():
            cmds.textScrollList(self.control, edit=True, append=label)
        for index in self.model.selected_indices():
            cmds.textScrollList(self.control, edit=True, selectIndexedItem=index + 1)  # 1-based
        self._show_current()

    def _selected(self) -> None:
        answer = cmds.textScrollList(self.control, q=True, selectIndexedItem=True)
        indices: list[Any] = answer if isinstance(answer, list) else []  # None when nothing is selected
        self.model.select_indices(int(i) - 1 for i in indices)
        self._show_current()

    def _show_current(self) -> None:
        """A textScrollList has one annotation, not one per item: it and the line under the
        list carry the selected take's full name, rig, seed and prompt."""
        text = self.model.hover_text()
        cmds.textScrollList(self.control, edit=True, annotation=text)
        cmds.text(self.details, edit=True, label=text.replace("\n", "  |  "))

    def ask_name(self, title: str, default: str) -> str | None:
        answer = cmds.promptDialog(title=title, message="New name:", text=default, button=["OK", "Cancel"],
                                   defaultButton="OK", cancelButton="Cancel", dismissString="Cancel")
        return str(cmds.promptDialog(q=True, text=True)) if answer == "OK" else None

    def confirm(self, question: str) -> bool:
        return cmds.confirmDialog(title=TITLE, message=question, button=["Delete", "Cancel"], defaultButton="Cancel",
                                  cancelButton="Cancel", dismissString="Cancel") == "Delete"

    def in_undo_step(self, what: str, fn: Callable[[], None]) -> None:
        cmds.undoInfo(openChunk=True, chunkName=what)
        try:
            fn()
        finally:
            cmds.undoInfo(closeChunk=True)

    def scene_file(self) -> str:
        return str(cmds.file(q=True, sceneName=True) or "")

    def ask_export_path(self, suggested: str) -> str | None:
        # Maya's own dialog takes a file path as its starting point, so the name is filled in
        chosen = cmds.fileDialog2(fileMode=0, caption="Export takes", fileFilter=EXPORT_FILTER, startingDirectory=suggested)
        return str(chosen[0]) if chosen else None

    def export_selected(self) -> None:
        from motionbridge.exporters import registry

        self.export(registry.export)
