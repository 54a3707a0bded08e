"""Loads CURVE keys for the client from the files named in Settings."""

from __future__ import annotations

from pathlib import Path

from .settings import Settings


def _read_cert(path: str) -> tuple[bytes, bytes | None]:
    import zmq.auth

    p = Path(path).expanduser()
    try:
        public, secret = zmq.auth.load_certificate(str(p))
        return public, secret
    except (ValueError, OSError):
        pass
    raw = p.read_bytes().strip()  # a bare Z85 public key
    if len(raw) != 40:
        raise ValueError(f"{p} is neither a ZeroMQ certificate nor a 40-character Z85 key; use the file `motionbridge keys` wrote")
    return raw, None


def load_keys(settings: Settings) -> tuple[bytes | None, tuple[bytes, bytes] | None]:
    """(server public key, (client public, client secret)) or Nones for plain TCP."""
    if not settings.server_key_path:
        return None, None
    server_public, _ = _read_cert(settings.server_key_path)
    client_keys = None
    if settings.client_key_path:
        public, secret = _read_cert(settings.client_key_path)
        if secret is None:
            raise ValueError(f"client key {settings.client_key_path} holds no secret key; pick the '.key_secret' file")
        client_keys = (public, secret)
    return server_public, client_keys
