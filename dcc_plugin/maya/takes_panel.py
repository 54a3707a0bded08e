"""The Maya panel's takes list: a textScrollList drawn from core.takes_list.TakesList, with
Audition, Rename (promptDialog), Delete (confirmDialog, in one undo chunk) and Export
(fileDialog2 starting at `<take>.fbx`)."""

from __future__ import annotations

from typing import Any, Callable

from maya import cmds

from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.takes import check_take_name
from motionbridge.dcc_plugin.core.takes_list import TakesList

from . import scene

TITLE = "MotionBridge"
EXPORT_FILTER = "FBX (*.fbx);;glTF binary (*.glb);;glTF (*.gltf);;BVH (*.bvh);;USD (*.usd *.usda *.usdc);;NumPy (*.npz)"


class MayaTakesList:
    def __init__(self, panel: Panel, show_error: Callable[[str], None]) -> None:
        self.panel = panel
        self.model = TakesList()
        self._show_error = show_error
        cmds.text(label="Takes", align="left")
        self.control = cmds.textScrollList(allowMultiSelection=True, numberOfRows=6,
                                           selectCommand=lambda *_: self._selected(),
                                           doubleClickCommand=lambda *_: self.audition())
        self.details = cmds.text(label="", align="left")
        cmds.rowLayout(numberOfColumns=4)
        cmds.button(label="Audition", command=lambda *_: self.audition())
        cmds.button(label="Rename", command=lambda *_: self.rename())
        cmds.button(label="Delete", command=lambda *_: self.delete())
        cmds.button(label="Export...", command=lambda *_: self.export())
        cmds.setParent("..")
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the scene; rows and selection stay where they were (TakesList.sync)."""
        self.model.sync(self.panel.host.list_takes(), scene.playing_takes())
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
        answer = cmds.promptDialog(title=TITLE, message="New name:", text=self.model.rename_default(),
                                   button=["Rename", "Cancel"], defaultButton="Rename", cancelButton="Cancel",
                                   dismissString="Cancel")
        if answer != "Rename":
            return
        typed = str(cmds.promptDialog(q=True, text=True))
        try:
            cleaned = check_take_name(typed, {t.name for t in self.panel.host.list_takes()})
            self.panel.host.rename_take(name, cleaned)
        except (ValueError, RuntimeError) as exc:
            self._show_error(str(exc))
            return
        self.model.renamed(name, cleaned)
        self.refresh()

    def delete(self) -> None:
        question = self.model.delete_question(undoable=True)
        if not question:
            self._show_error("no take selected; click a take in the list first")
            return
        name = self._current()
        if cmds.confirmDialog(title=TITLE, message=question, button=["Delete", "Cancel"], defaultButton="Cancel",
                              cancelButton="Cancel", dismissString="Cancel") != "Delete":
            return
        cmds.undoInfo(openChunk=True, chunkName=f"MotionBridge: delete take {name}")
        try:
            self.panel.host.delete_take(name)
        except RuntimeError as exc:
            self._show_error(str(exc))
        finally:
            cmds.undoInfo(closeChunk=True)
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
        # Maya's own dialog takes a file path as its starting point, so the name is filled in
        start = self.model.export_path(str(cmds.file(q=True, sceneName=True) or ""))
        chosen = cmds.fileDialog2(fileMode=0, caption="Export takes", fileFilter=EXPORT_FILTER, startingDirectory=start)
        if not chosen:
            return
        from motionbridge.exporters import registry

        self.panel.export_takes(names, str(chosen[0]), registry.export)
