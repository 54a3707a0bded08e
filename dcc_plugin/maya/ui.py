"""The dockable MotionBridge panel (a workspaceControl built with maya.cmds)."""

from __future__ import annotations

from typing import Any

from maya import cmds

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.settings import Settings

from .host import MayaHost

WORKSPACE = "MotionBridgeWorkspace"


class MotionBridgePanel:
    def __init__(self) -> None:
        self.host = MayaHost(self._show)
        self.panel = panel_actions.open_panel(self.host, on_change=lambda p: self._refresh())
        self._build(self.panel.settings)

    def _build(self, s: Settings) -> None:
        if cmds.workspaceControl(WORKSPACE, exists=True):
            cmds.deleteUI(WORKSPACE)
        cmds.workspaceControl(WORKSPACE, label="MotionBridge", retain=False, floating=True)
        cmds.columnLayout(adjustableColumn=True, rowSpacing=4)
        self.endpoint = cmds.textFieldGrp(label="Server", text=s.endpoint)
        cmds.button(label="Connect", command=lambda *_: self.connect())
        self.prompt = cmds.textFieldGrp(label="Prompt", text="A person walks forward.")
        self.duration = cmds.floatSliderGrp(label="Duration (s)", field=True, minValue=0.7, maxValue=12.0, value=s.duration_s)
        self.variations = cmds.intSliderGrp(label="Variations", field=True, minValue=1, maxValue=16, value=s.variations)
        self.cfg = cmds.floatSliderGrp(label="CFG", field=True, minValue=1.0, maxValue=30.0, value=s.cfg)
        self.root_motion = cmds.checkBox(label="Root motion", value=s.root_motion)
        self.foot_lock = cmds.checkBox(label="Foot lock", value=s.foot_lock)
        cmds.button(label="Generate (on the selected skeleton)", command=lambda *_: self.generate())
        cmds.button(label="Cancel", command=lambda *_: self.panel.cancel())
        self.progress = cmds.progressBar(maxValue=100)
        self.status = cmds.text(label="Not connected.", align="left")
        self.error = cmds.text(label="", align="left")

    def _show(self, fraction: float, message: str, error: str) -> None:
        cmds.progressBar(self.progress, edit=True, progress=int(fraction * 100))
        if message:
            cmds.text(self.status, edit=True, label=message[:120])
        if error:
            cmds.text(self.error, edit=True, label=error[:200])

    def _refresh(self) -> None:
        cmds.text(self.status, edit=True, label=f"[{self.panel.state.value}] {self.panel.status}"[:120])
        cmds.text(self.error, edit=True, label=self.panel.error[:200])

    def _fields(self) -> dict[str, Any]:
        """The widgets' values, as Settings fields (checked by panel_actions)."""
        return dict(
            endpoint=str(cmds.textFieldGrp(self.endpoint, q=True, text=True)).strip(),
            duration_s=float(cmds.floatSliderGrp(self.duration, q=True, value=True)),
            variations=int(cmds.intSliderGrp(self.variations, q=True, value=True)),
            cfg=float(cmds.floatSliderGrp(self.cfg, q=True, value=True)),
            root_motion=bool(cmds.checkBox(self.root_motion, q=True, value=True)),
            foot_lock=bool(cmds.checkBox(self.foot_lock, q=True, value=True)),
        )

    def connect(self) -> None:
        panel_actions.connect(self.panel, self._fields())

    def generate(self) -> None:
        panel_actions.generate(self.panel, self._fields(), str(cmds.textFieldGrp(self.prompt, q=True, text=True)))
