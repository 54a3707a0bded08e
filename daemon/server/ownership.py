"""Who owns a request: the key a client proved, never the routing id it claims.

A routing id is only a delivery address: any peer may present any routing id. Ownership
(who may cancel a request, be sent its results again after a reconnect, or get its stored
outcome replayed) is bound to what a peer can prove:

- under CURVE, the User-Id that ZAP attached to the message (the client's public key), plus
  the client's secret when it sends one, so two processes sharing a key stay apart;
- without CURVE, the secret the client chose and sends with every request;
- an older client that sends no secret (degraded: documented in PROTOCOL.md) is known by its
  routing id, plus its key under CURVE.

Secrets are hashed here and never kept or logged as sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from motionbridge.daemon.protocol import frames as P


def owner_of(routing_id: bytes, header: Mapping[str, Any], user_id: str | None) -> bytes:
    """The owner key of a message; raises ProtocolError for a malformed secret."""
    secret = P.parse_secret(header)
    key = b"k:" + user_id.encode() + b"|" if user_id else b""
    if secret is not None:
        return key + b"s:" + hashlib.sha256(secret.encode()).digest()
    return key + b"r:" + routing_id
