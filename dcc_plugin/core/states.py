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
