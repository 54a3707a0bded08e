"""Run (deferred) by the userSetup.py block `motionbridge install maya` writes."""

from __future__ import annotations

from maya import cmds

from .ui import MotionBridgePanel

MENU = "MotionBridgeMenu"
_panel: MotionBridgePanel | None = None


def show() -> MotionBridgePanel:
    global _panel
    if _panel is None:
        _panel = MotionBridgePanel()
    return _panel


def add_menu() -> None:
    if cmds.menu(MENU, exists=True):
        cmds.deleteUI(MENU)
    cmds.menu(MENU, label="MotionBridge", parent="MayaWindow")
    cmds.menuItem(label="Open panel", command=lambda *_: show())
