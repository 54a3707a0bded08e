"""The dockable MotionBridge panel (a workspaceControl built with maya.cmds)."""

from __future__ import annotations

from typing import Any

from maya import cmds

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.errors import summary
from motionbridge.dcc_plugin.core.settings import Settings

from .host import MayaHost
from .takes_panel import MayaTakesList

WORKSPACE = "MotionBridgeWorkspace"


class MotionBridgePanel:
    def __init__(self) -> None:
        # open_panel reports a settings file it had to ignore before the widgets exist: held
        # until they do, then shown on the error line
        self._opening: list[str] | None = []
        self.host = MayaHost(self._show)
        self.panel = panel_actions.open_panel(self.host, on_change=lambda p: self._refresh())
        self._build(self.panel.settings)
        early, self._opening = self._opening or [], None
        for error in early:
            self.panel.refuse(error)

    def _build(self, s: Settings) -> None:
        if cmds.workspaceControl(WORKSPACE, exists=True):
            cmds.deleteUI(WORKSPACE)
        cmds.workspaceControl(WORKSPACE, label="MotionBridge", retain=False, floating=True)
        cmds.columnLayout(adjustableColumn=True, rowSpacing=4)
        self.endpoint = cmds.textFieldGrp(label="Server", text=s.endpoint)
        cmds.button(label="Connect", command=lambda *_: self.connect())
        self.prompt = cmds.textFieldGrp(label="Prompt", text="A person walks forward.")
        # what the daemon changed about the last request (a prompt cut at 128 tokens...)
        self.warnings = cmds.text(label="", align="left", visible=False)
        self.duration = cmds.floatSliderGrp(label="Duration (s)", field=True, minValue=0.7, maxValue=12.0, value=s.duration_s)
        self.variations = cmds.intSliderGrp(label="Variations", field=True, minValue=1, maxValue=16, value=s.variations)
        self.cfg = cmds.floatSliderGrp(label="CFG", field=True, minValue=1.0, maxValue=30.0, value=s.cfg)
        self.root_motion = cmds.checkBox(label="Root motion", value=s.root_motion)
        self.foot_lock = cmds.checkBox(label="Foot lock", value=s.foot_lock)
        cmds.button(label="Generate (on the selected skeleton)", command=lambda *_: self.generate())
        # directing: Loop and the curve go with Generate; the rows read the scene (the takes
        # list's selection is the take Extend and Regenerate work on, the playback range the range)
        self.loop = cmds.checkBox(label="Loop", value=False)
        self.curve = cmds.textFieldGrp(label="Follow curve", text="", placeholderText="a NURBS curve on the floor (empty: none)")
        cmds.rowLayout(numberOfColumns=4)
        for text, mode in (("From Current Pose", "current_pose"), ("In-between", "in_between"), ("Extend Take", "extend"),
                           ("Regenerate Range", "regenerate")):
            cmds.button(label=text, command=lambda *_, m=mode: self.generate(m))
        cmds.setParent("..")
        cmds.button(label="Cancel", command=lambda *_: self.panel.cancel())
        self.progress = cmds.progressBar(maxValue=100)
        self.status = cmds.text(label="Not connected.", align="left")
        cmds.rowLayout(numberOfColumns=3, adjustableColumn=1)
        self.error = cmds.text(label="", align="left", backgroundColor=(0.5, 0.15, 0.15), visible=False)
        self.details = cmds.button(label="Details", command=lambda *_: self.show_details(), visible=False)
        self.dismiss = cmds.button(label="Dismiss", command=lambda *_: self.panel.clear_error(), visible=False)
        cmds.setParent("..")
        self.takes = MayaTakesList(self.panel)  # its errors go to the panel's error line, with Details and Dismiss

    def _show(self, fraction: float, message: str, error: str) -> None:
        if self._opening is not None:
            if error:
                self._opening.append(error)
            return
        cmds.progressBar(self.progress, edit=True, progress=int(fraction * 100))
        if message:
            cmds.text(self.status, edit=True, label=summary(message, 120))
        if error:
            self._show_error(error)

    def _show_error(self, error: str) -> None:
        """One short line, with Details and Dismiss beside it; hidden when there is none."""
        for control in (self.details, self.dismiss):
            cmds.button(control, edit=True, visible=bool(error))
        cmds.text(self.error, edit=True, label=summary(error), visible=bool(error))

    def _refresh(self) -> None:
        status = "" if self.panel.status == self.panel.error else self.panel.status
        cmds.text(self.status, edit=True, label=summary(f"[{self.panel.state.value}] {status}", 120))
        self._show_error(self.panel.error)
        warnings = "  ".join(summary(w) for w in self.panel.warnings)
        cmds.text(self.warnings, edit=True, label=warnings, visible=bool(warnings))
        self.takes.refresh()  # a finished generation appends its takes; nothing else moves

    def show_details(self) -> None:
        if self.panel.error:
            cmds.confirmDialog(title="MotionBridge", message=self.panel.error, button=["OK"])

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

    def generate(self, mode: str = "plain") -> None:
        current = self.takes.model.current()
        panel_actions.generate_with(self.panel, self._fields(), str(cmds.textFieldGrp(self.prompt, q=True, text=True)), mode,
                                    take=current.name if current else "", loop_on=bool(cmds.checkBox(self.loop, q=True, value=True)),
                                    curve=str(cmds.textFieldGrp(self.curve, q=True, text=True)).strip())
