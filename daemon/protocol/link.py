"""The worker link: the server <-> model-worker messages inside one daemon.

Each worker process (one per GPU) talks to its server over a ZeroMQ PAIR socket with the public
protocol's framing (frames.py) and these commands:

    server -> worker: RUN {batch, requests, preview_every, preview_ids}   CANCEL {id}   STOP {}
    worker -> server: READY {model_name, model_hash, load_s, pid}   STEP {batch, step, total, ids}
                      PREVIEW {id, step, total} + clip arrays   TAKE {batch, id, seed, index} + clip
                      DONE {batch}   OOM {batch, message}   FAIL {batch, message, healthy, reason}

A request's `id` on the link is the server's job key, unique across clients; the server turns
a worker's PREVIEW and TAKE into the client's PROGRESS and RESULT under the client's own id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zmq

from .frames import MAX_REPLY_BYTES, Message, decode, encode

# server -> worker
RUN, CANCEL, STOP = "RUN", "CANCEL", "STOP"
# worker -> server
READY, STEP, PREVIEW, TAKE, DONE, OOM, FAIL = "READY", "STEP", "PREVIEW", "TAKE", "DONE", "OOM", "FAIL"
LINK_COMMANDS = frozenset({RUN, CANCEL, STOP, READY, STEP, PREVIEW, TAKE, DONE, OOM, FAIL})


def link_send(sock: zmq.Socket, command: str, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    sock.send_multipart(encode(Message(command, header, arrays or {})))


def link_recv(sock: zmq.Socket) -> Message:
    # a TAKE carries up to 64 seeds' previews or one take: well past a client request's limit
    return decode(sock.recv_multipart(), allowed=LINK_COMMANDS, max_bytes=MAX_REPLY_BYTES * 4)
