"""The MotionBridge FBTool: the same controls as the Blender panel, on the shared core Panel."""

from __future__ import annotations

from typing import Any

from pyfbsdk import (
    FBAddRegionParam,
    FBAttachType,
    FBButton,
    FBButtonStyle,
    FBEdit,
    FBEditNumber,
    FBLabel,
    FBList,
    FBMessageBox,
    FBTool,
    FBVisualComponent,
)
from pyfbsdk_additions import FBCreateUniqueTool, FBVBoxLayout

from motionbridge.dcc_plugin.core import panel_actions
from motionbridge.dcc_plugin.core.errors import summary
from motionbridge.dcc_plugin.core.host import HostError
from motionbridge.dcc_plugin.core.panel import State

from .host import MODES, MotionBuilderHost
from .takes_panel import MotionBuilderTakesList

ROW = 25


class MotionBridgeTool:
    def __init__(self) -> None:
        # open_panel reports a settings file it had to ignore before the widgets exist: held
        # until they do, then shown on the error line
        self._opening: list[str] | None = []
        self.host = MotionBuilderHost(MODES[0], self._show)
        self.panel = panel_actions.open_panel(self.host, on_change=lambda p: self._refresh())
        loaded = self.panel.settings
        self.tool: FBTool = FBCreateUniqueTool("MotionBridge")
        self.tool.StartSizeX, self.tool.StartSizeY = 360, 520
        self.status = FBLabel()
        self.error = FBLabel()
        self.endpoint = FBEdit()
        self.endpoint.Text = loaded.endpoint
        self.prompt = FBEdit()
        self.prompt.Text = "A person walks forward."
        self.warnings = FBLabel()  # what the daemon changed about the last request (a prompt cut at 128 tokens...)
        self.duration = self._number(loaded.duration_s, 0.7, 12.0)
        self.variations = self._number(loaded.variations, 1, 16)
        self.cfg = self._number(loaded.cfg, 1.0, 30.0)
        self.mode = FBList()
        for m in MODES:
            self.mode.Items.Add(m)
        self.loop = FBButton()  # directing: Generate makes a cycle
        self.loop.Style, self.loop.Caption = FBButtonStyle.kFBCheckbox, "Loop"
        self.curve = FBEdit()  # directing: the 3D path Generate follows (empty: none)
        self.takes = MotionBuilderTakesList(self.panel)  # its errors go to the panel's error line, with Details and Dismiss
        self.error_buttons = [self._button("Error details", self.show_details),
                              self._button("Dismiss error", lambda: self.panel.clear_error())]
        self._build()
        self.takes.refresh()
        early, self._opening = self._opening or [], None
        for error in early:
            self.panel.refuse(error)

    @staticmethod
    def _number(value: float, low: float, high: float) -> FBEditNumber:
        edit = FBEditNumber()
        edit.Min, edit.Max, edit.Value = low, high, float(value)
        return edit

    def _button(self, caption: str, action: Any) -> FBButton:
        button = FBButton()
        button.Caption = caption
        button.OnClick.Add(lambda _control, _event: action())
        return button

    def _build(self) -> None:
        x, y = FBAddRegionParam(5, FBAttachType.kFBAttachLeft, ""), FBAddRegionParam(5, FBAttachType.kFBAttachTop, "")
        w, h = FBAddRegionParam(-5, FBAttachType.kFBAttachRight, ""), FBAddRegionParam(-5, FBAttachType.kFBAttachBottom, "")
        self.tool.AddRegion("main", "main", x, y, w, h)
        box = FBVBoxLayout()
        self.tool.SetControl("main", box)
        fields: tuple[tuple[str, FBVisualComponent], ...] = (
            ("Server", self.endpoint), ("Prompt", self.prompt), ("Duration (s)", self.duration),
            ("Variations", self.variations), ("CFG", self.cfg), ("Mode", self.mode))
        for text, control in fields:
            label = FBLabel()
            label.Caption = text
            box.Add(label, ROW - 8)
            box.Add(control, ROW)
            if control is self.prompt:
                box.Add(self.warnings, ROW - 8)
        for text, action in (("Connect", self.connect), ("Generate", self.generate), ("Cancel", self.panel.cancel),
                             ("Plot to character", self.plot)):
            box.Add(self._button(text, action), ROW)
        self._build_directing(box)
        box.Add(self.status, ROW)
        box.Add(self.error, ROW)
        for button in self.error_buttons:
            button.Enabled = False  # an FBButton cannot hide; it is usable while there is an error
            box.Add(button, ROW)
        label = FBLabel()
        label.Caption = "Takes"
        box.Add(label, ROW - 8)
        box.Add(self.takes.control, ROW * 5)
        box.Add(self.takes.details, ROW)
        for button in self.takes.buttons:
            box.Add(button, ROW)

    def _show(self, fraction: float, message: str, error: str) -> None:
        if self._opening is not None:
            if error:
                self._opening.append(error)
            return
        if message:
            self.status.Caption = summary(f"{fraction:.0%} {message}" if fraction else message, 120)
        if error:
            self.error.Caption = summary(error)
            for button in self.error_buttons:
                button.Enabled = True

    def _refresh(self) -> None:
        status = "" if self.panel.status == self.panel.error else self.panel.status
        self.status.Caption = summary(f"[{self.panel.state.value}] {status}", 120)
        self.error.Caption = summary(self.panel.error)
        for button in self.error_buttons:
            button.Enabled = bool(self.panel.error)
        self.warnings.Caption = "  ".join(summary(w) for w in self.panel.warnings)
        self.takes.refresh()  # a finished generation appends its takes; nothing else moves

    def show_details(self) -> None:
        """The whole message (the error line shows its first sentence)."""
        if self.panel.error:
            FBMessageBox("MotionBridge", self.panel.error, "OK")

    def _fields(self) -> dict[str, Any]:
        """The widgets' values, as Settings fields (checked by panel_actions)."""
        return dict(endpoint=self.endpoint.Text.strip(), duration_s=float(self.duration.Value),
                    variations=int(self.variations.Value), cfg=float(self.cfg.Value))

    def connect(self) -> None:
        panel_actions.connect(self.panel, self._fields())

    def generate(self, mode: str = "plain") -> None:
        self.host.mode = MODES[max(0, self.mode.ItemIndex)]
        current = self.takes.model.current()
        panel_actions.generate_with(self.panel, self._fields(), self.prompt.Text, mode, take=current.name if current else "",
                                    loop_on=bool(self.loop.State), curve=self.curve.Text.strip())

    def _build_directing(self, box: Any) -> None:
        """Directed takes (Direct mode reads the skeleton's pose and keys; the takes list's
        selection is the take Extend and Regenerate work on, the loop range the range)."""
        label = FBLabel()
        label.Caption = "Follow 3D path (name)"
        box.Add(self.loop, ROW)
        box.Add(label, ROW - 8)
        box.Add(self.curve, ROW)
        for text, mode in (("From current pose", "current_pose"), ("In-between keys", "in_between"),
                           ("Extend take", "extend"), ("Regenerate loop range", "regenerate")):
            box.Add(self._button(text, lambda m=mode: self.generate(m)), ROW)

    def plot(self) -> None:
        rig = self.host.selected_rig()
        if rig is None or self.panel.state in (State.GENERATING, State.PREVIEW):
            self.panel.refuse("select the character to plot (Character Controls), and wait for the take")
            return
        try:
            self.host.plot(rig)
        except HostError as exc:  # the panel's error line, with Details and Dismiss
            self.panel.refuse(str(exc))
