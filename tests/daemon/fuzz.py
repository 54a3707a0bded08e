"""Hypothesis fuzzing of a live daemon: random, truncated, oversized, wrong-version frames.

Each message's expected answer comes from decoding it locally with the protocol module:
a malformed one must get ERROR with exactly the code the protocol assigns.
"""

from __future__ import annotations

import msgpack
import zmq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import motionbridge.daemon.protocol.frames as P

_commands = st.sampled_from([b"HELLO", b"GENERATE", b"CANCEL", b"STATUS", b"PING", b"RESULT", b"", b"ping", b"\xff"])
_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20) | st.binary(max_size=20)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                       max_leaves=12)
_generate_fields = st.dictionaries(
    st.sampled_from(sorted(P.GENERATE_FIELDS) + ["arrays", "evil"]),
    _values | st.sampled_from(["A person walks.", 2.0, [0, 1], 5.0, "batch", "in_place", 30, 0, P.new_id()]),
    max_size=8)


def _packed(value) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):
        return b"\xc1"


@st.composite
def messages(draw) -> list[bytes]:
    kind = draw(st.sampled_from(["random", "wrong_version", "truncated", "header", "arrays", "oversized"]))
    if kind == "random":
        return draw(st.lists(st.binary(max_size=64), max_size=6))
    header = draw(_generate_fields)
    frames = [P.VERSION, draw(_commands), _packed(header)]
    if kind == "wrong_version":
        frames[0] = draw(st.binary(max_size=8).filter(lambda v: v != P.VERSION))
    elif kind == "truncated":
        good = P.encode(P.Message(P.GENERATE, {"id": "t", "prompt": "A person walks.", "seeds": [0]}))
        cut = draw(st.integers(0, len(good[2])))
        frames = good[: draw(st.integers(0, 3))] + ([good[2][:cut]] if draw(st.booleans()) else [])
    elif kind == "arrays":
        specs = draw(st.lists(st.tuples(st.text(max_size=4), st.sampled_from(["<f4", "<f8", "O", "<c16", "x"]),
                                        st.lists(st.integers(-2, 5), max_size=6)), max_size=3))
        frames = [P.VERSION, draw(_commands), _packed({**header, "arrays": [list(s) for s in specs]})]
        frames += draw(st.lists(st.binary(max_size=64), max_size=4))
    elif kind == "oversized":
        size = draw(st.integers(P.MAX_REQUEST_BYTES // 2 + 1, P.MAX_REQUEST_BYTES - 1))
        frames += [b"\0" * size, b"\1" * size]
    return frames


def expected_reply(frames: list[bytes]) -> tuple[str, str | None] | None:
    """(reply command, error code) the daemon must answer; None for no answer; 'valid' for real work."""
    try:
        msg = P.decode(frames)
    except P.ProtocolError as exc:
        return (P.ERROR, exc.code)
    try:
        P.parse_secret(msg.header)  # checked first, on every command (server/ownership.py)
    except P.ProtocolError as exc:
        return (P.ERROR, exc.code)
    if msg.command == P.HEARTBEAT:
        return None
    try:
        P.parse_id(msg.header)
        if msg.command == P.GENERATE:
            P.parse_generate(msg.header)
            return ("valid", None)
    except P.ProtocolError as exc:
        return (P.ERROR, exc.code)
    if msg.command == P.CANCEL:
        return (P.ERROR, P.E_UNKNOWN_REQUEST)
    return ({P.PING: P.PONG}.get(msg.command, msg.command), None)


def fuzz_daemon(endpoint: str, examples: int) -> int:
    """Sends `examples` fuzzed messages; checks every answer; returns how many were sent."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sent = 0

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(messages())
    def one(frames):
        nonlocal sent
        expected = expected_reply(frames)
        assume(expected is not None and expected[0] != "valid")
        if not frames:
            frames = [b""]  # a DEALER cannot send zero frames; an empty one is still malformed
            expected = (P.ERROR, P.E_BAD_FRAMES)
        sock.send_multipart(frames)
        sent += 1
        assert sock.poll(5000), f"no answer to {[f[:20] for f in frames]}"
        reply = P.decode(sock.recv_multipart(), allowed=P.DAEMON_COMMANDS, max_bytes=P.MAX_REPLY_BYTES)
        assert reply.command == expected[0], (reply.header, frames[:3])
        if expected[1] is not None:
            assert reply.header["code"] == expected[1], (reply.header, [f[:20] for f in frames])

    try:
        one()
        # a single frame over ZMQ_MAXMSGSIZE: libzmq drops that connection; nothing else may suffer
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(endpoint)
        big.send_multipart([P.VERSION, b"PING", b"\0" * (P.MAX_REQUEST_BYTES + 1)])
        sent += 1
        big.close()
    finally:
        sock.close()
    return sent
