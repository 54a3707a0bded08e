"""Makes the daemon client from the user's settings (CURVE keys when a server key is set)."""

from __future__ import annotations

from typing import Any

from .settings import Settings


def default_client_factory(settings: Settings) -> Any:
    from motionbridge.daemon.protocol.client import MotionBridgeClient

    curve = bool(settings.server_key_path)
    if curve and not settings.client_key_path:
        raise ValueError("a server key is set but no client key; pick your .key_secret file in Settings (or clear both)")
    return MotionBridgeClient(
        settings.endpoint,
        server_public_key=settings.server_key_path if curve else None,
        client_keys=settings.client_key_path if curve else None,
        timeout_s=settings.timeout_s,
        retries=1,
    )
