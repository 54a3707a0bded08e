"""The panel's states (see core/panel.py for the machine)."""

from __future__ import annotations

import enum


class State(str, enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    GENERATING = "generating"
    PREVIEW = "preview"
    TAKE_WRITTEN = "take_written"
    ERROR = "error"


def stage_line(stage: str, queued: int = 0) -> str:
    """A few words on why the running request waits or runs slower than it will: a PROGRESS
    `stage` (daemon/PROTOCOL.md), or 'queued' with the requests ahead of it (its ACCEPTED
    `position`). '' on the fast path; a stage this panel does not know is shown by its name."""
    if not stage:
        return ""
    if stage == "loading":
        return "the daemon is loading its model"
    if stage == "compiling":
        return "compiling this length" + (f", {queued} more queued" if queued else "")
    if stage == "compile_failed":
        return "running uncompiled"
    if stage == "queued":
        return f"queued behind {queued} request{'s' if queued != 1 else ''}"
    return stage.replace("_", " ")
