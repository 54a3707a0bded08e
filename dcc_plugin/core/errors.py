"""Turns exceptions from the client, the rigs and the host into one line a user can act on."""

from __future__ import annotations

from .settings import Settings

_UNREACHABLE = ("timeout", "timed out", "unreachable", "no reply", "connection", "not responding")


def explain(exc: BaseException, settings: Settings) -> str:
    if isinstance(exc, ValueError):  # limits, RigError, settings: already user-facing
        return str(exc)
    code = str(getattr(exc, "code", "") or "").lower()
    message = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    text = f"{code} {message}".lower()
    if any(word in text for word in _UNREACHABLE):
        hint = f"Cannot reach the MotionBridge daemon at {settings.endpoint} ({message}). Start it with `motionbridge serve` or fix the endpoint in Settings"
        if settings.server_key_path:
            hint += f"; if it is running, check that the server key {settings.server_key_path} matches the daemon's (`motionbridge keys`)"
        return hint + "."
    if "restart" in text or "shutting down" in text or "unavailable" in text:
        return f"The daemon at {settings.endpoint} is restarting ({message}); press Connect again in a few seconds."
    if "key" in text or "auth" in text or "curve" in text:
        return f"The daemon refused this client ({message}); check the server and client key files in Settings."
    if code == "busy" or "busy" in text:
        return f"The daemon is busy ({message}); your request was not queued, try again shortly."
    return f"{type(exc).__name__}: {message}" if not code else f"daemon error [{code}]: {message}"
