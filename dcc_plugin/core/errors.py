"""Turns exceptions and ERROR events into one line a user can act on.

Branches on the protocol's stable error codes (daemon/PROTOCOL.md), never on message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import Settings

_RESTARTING = {"worker_died", "shutting_down"}


def explain_code(code: str, message: str, settings: Settings, details: Mapping[str, Any] | None = None) -> str:
    details = details or {}
    if code in ("unreachable", "timeout"):
        text = (f"Cannot reach the MotionBridge daemon at {settings.endpoint}. "
                "Start it with `motionbridge serve`, or fix the server address in Settings")
        if settings.server_key_path:
            text += f"; if it is running, check that the server key {settings.server_key_path} is the daemon's (`motionbridge keys`)"
        return text + "."
    if code == "auth_rejected":
        return (f"The daemon at {settings.endpoint} refused this client's key ({message}). "
                "Check the server and client key files in Settings, or ask the daemon's admin to add your public key.")
    if code in _RESTARTING:
        return f"The daemon is restarting ({message}). Press Generate again in a few seconds; nothing was written."
    if code == "model_unavailable":
        return f"The daemon cannot load its model ({message}). Nothing was queued; ask its admin to check the daemon."
    if code == "busy":
        after = details.get("retry_after_s")
        return f"The daemon's queue is full; try again{f' in {float(after):.0f} s' if after else ' shortly'} (nothing was queued)."
    if code == "out_of_memory":
        return f"The GPU ran out of memory ({message}); use fewer variations or a shorter duration."
    if code == "bad_request":
        return f"The daemon rejected the request: {message}"
    if code == "closed":
        return "Not connected; press Connect."
    return f"Daemon error [{code}]: {message}"


def explain(exc: BaseException, settings: Settings) -> str:
    if isinstance(exc, ValueError):  # limits, RigError, settings: already user-facing
        return str(exc)
    code = getattr(exc, "code", None)
    if code:
        return explain_code(str(code), str(getattr(exc, "message", exc)), settings, getattr(exc, "details", None))
    return f"{type(exc).__name__}: {exc}"


def message_of(exc: BaseException) -> str:
    """The exception's own text: a KeyError's str() is the repr of its message, quotes and all."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


SUMMARY_WIDTH = 60  # about what a DCC sidebar shows on one line


def summary(message: str, width: int = SUMMARY_WIDTH) -> str:
    """The first sentence of `message`, cut to `width` characters: the one line a panel shows
    (the whole message stays behind its Details button)."""
    text = " ".join(message.split())
    if len(text) <= width:
        return text
    for end in (". ", "; ", " ("):
        cut = text.find(end)
        if 0 < cut:
            text = text[:cut]
    if len(text) > width and ": " in text:  # "what failed: why" -> what failed
        text = text[: text.find(": ")]
    text = text.rstrip(".")
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def cause_of(exc: BaseException) -> str:
    """What the animator can act on for this error (an UnmappableRig says "mapping")."""
    return str(getattr(exc, "cause", "") or "")
