"""The worker link: the server <-> model-worker messages inside one daemon.

Each worker process (one per GPU) talks to its server over a ZeroMQ PAIR socket with the public
protocol's framing (frames.py) and these commands:

    server -> worker: RUN {batch, requests, preview_every, preview_ids}   CANCEL {id}   STOP {}
    worker -> server: READY {model_name, model_hash, load_s, pid}   STEP {batch, step, total, ids}
                      PROGRESS {id, step, total, previews} + clip arrays
                      RESULT {batch, id, seed, index, ...} + clip arrays
                      DONE {batch}   OOM {batch, message}   FAIL {batch, message, healthy, reason}
                      COMPILES {ready, failed, queued, compiling}: its background compiles, when they change

A take or a preview is built once, in the worker, as the PROGRESS or RESULT its client gets
(payload.py). On the link its `id` is the server's job key, unique across clients; the server
only re-addresses it to the client's own request id (`for_client`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import zmq

from .frames import MAX_REPLY_BYTES, PROGRESS, RESULT, Message, decode, encode

# server -> worker
RUN, CANCEL, STOP = "RUN", "CANCEL", "STOP"
# worker -> server (and PROGRESS with previews, RESULT with a take: the protocol's own commands)
READY, STEP, DONE, OOM, FAIL, COMPILES = "READY", "STEP", "DONE", "OOM", "FAIL", "COMPILES"
LINK_COMMANDS = frozenset({RUN, CANCEL, STOP, READY, STEP, PROGRESS, RESULT, DONE, OOM, FAIL, COMPILES})


def link_send(sock: zmq.Socket, command: str, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
    """Arrays go out uncopied: a link message's arrays (a take, a preview, a directed request's
    controls) are not written after they are sent."""
    sock.send_multipart(encode(Message(command, header, arrays or {}), zero_copy=True), copy=False)


def for_client(msg: Message, client_id: str) -> Message:
    """A worker's PROGRESS or RESULT as its client gets it: under the client's request id,
    without the link's batch number."""
    header = {k: v for k, v in msg.header.items() if k != "batch"}
    header["id"] = client_id
    return Message(msg.command, header, msg.arrays, msg.raw)


def link_recv(sock: zmq.Socket) -> Message:
    """A PROGRESS's or RESULT's arrays stay the frames received (Message.raw): the server
    passes them to the client as they are, never decoding or copying them."""
    # a PROGRESS carries up to 64 seeds' previews: well past a client request's limit
    return decode(sock.recv_multipart(copy=False), allowed=LINK_COMMANDS, max_bytes=MAX_REPLY_BYTES * 4,
                  relay=frozenset({PROGRESS, RESULT}))
