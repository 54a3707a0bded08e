"""The panel's error line, shared by every DCC: one short line in the panel, the whole
message behind a Details button, dismissable, and cleared when its cause is gone.

`error` holds the whole message (what `host.report_error` gets); `error_summary` is the
line the panel draws; `error_cause` says what the animator can do about it: "mapping" (the
rig cannot be mapped: offer the mapping editor for `error_rig`), "target" (no usable
armature chosen), "" (anything else).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import cause_of, explain, summary
from .states import State


class NoTarget(ValueError):
    """No usable armature chosen: cleared once the animator picks one."""

    cause = "target"


class ErrorLine:
    error: str
    status: str
    state: State
    host: Any
    settings: Any
    warnings: tuple[str, ...]
    stage: str
    _on_change: Callable[[Any], None] | None

    error_cause = ""
    error_rig = ""

    @property
    def error_summary(self) -> str:
        return summary(self.error)

    def _show_error(self, message: str, cause: str, rig: str) -> None:
        self.error, self.status = message, message
        self.error_cause, self.error_rig = cause, rig
        self.host.report_error(message)
        if self._on_change is not None:
            self._on_change(self)

    def refuse(self, message: str, cause: str = "", rig: str = "") -> None:
        """Bad input or a failed scene action: say why; the state (and connection) stays."""
        self._show_error(message, cause, rig)

    def _fail(self, exc_or_message: BaseException | str) -> None:
        if isinstance(exc_or_message, str):
            message, cause, rig = exc_or_message, "", ""
        else:
            message, cause, rig = explain(exc_or_message, self.settings), cause_of(exc_or_message), str(getattr(exc_or_message, "rig", ""))
        self.state, self.stage = State.ERROR, ""  # the request is over: no stage to show
        self._show_error(message, cause, rig)

    def clear_error(self, cause: str | None = None) -> bool:
        """Clear the error (only one of that `cause`, when given); the state goes back to
        connected or not. True when something was cleared."""
        if not self.error or (cause is not None and cause != self.error_cause):
            return False
        if self.status == self.error:
            self.status = ""
        self.error, self.error_cause, self.error_rig = "", "", ""
        if self.state is State.ERROR:
            self.state = State.CONNECTED if getattr(self, "client", None) is not None else State.DISCONNECTED
        if self._on_change is not None:
            self._on_change(self)
        return True

    def note_warnings(self, found: Any) -> None:
        """Warnings the daemon sent with a request (a prompt cut at 128 tokens...), each once."""
        for warning in found or ():
            if warning and str(warning) not in self.warnings:
                self.warnings = (*self.warnings, str(warning))
