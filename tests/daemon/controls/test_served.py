"""Directed takes through a real daemon (`motionbridge serve`, its default fast engine, on the
parity fixture, real ZeroMQ on loopback): the same bytes as in-process on the same engine, bad controls refused
with one ERROR while the daemon keeps serving, progress, previews and cancel, and the HELLO
handshake that keeps old daemons from ever being sent controls."""

from __future__ import annotations

import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from daemon_proc import DaemonProcess

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon import cli_generate
from motionbridge.daemon.cli import main
from motionbridge.daemon.controls import spec
from motionbridge.daemon.controls.seams import pose_errors
from motionbridge.daemon.controls.wire import to_wire
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient
from motionbridge.exporters.npz import read, write
from motionbridge.rigs.synthetic import MOTIONS

TAKE_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def daemon(parity):
    te = parity / "text_encoders"
    # one torch thread, as the in-process engine fixture (CPU kernels round by thread count)
    d = DaemonProcess("--threads", "1", "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"),
                      heartbeat=0.2, ready_timeout=300)
    yield d
    assert d.stop(60) == 0


@pytest.fixture(scope="module")
def fast_engine(parity, engine):
    """The daemon's engine, in-process (one torch thread, which the engine fixture set)."""
    from motionbridge.daemon.engine.fast.engine import FastEngine

    return FastEngine.from_parity(parity)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    walk, wave = MOTIONS["walking"](), MOTIONS["waving"]()
    write(d / "walk.npz", [walk], ["walk"])
    np.savez(d / "keys.npz", frames=np.array([10, 30]), rotations=wave.rotations[[5, 25]], root_translation=wave.root_translation[[5, 25]])
    (d / "path.json").write_text('{"points": [[0, 0, 0], [1.5, 1, 0]]}')
    return d


def _generate(out, flags) -> int:
    return main(["generate", "A person walks, then waves.", "--duration", "1.5", "--seed", "4", "--out", str(out), *flags])


@pytest.mark.parametrize("flags, recorded", [
    (["--start-from", "{d}/walk.npz@40", "--keys", "{d}/keys.npz"], {"start_from", "keys"}),
    (["--loop"], {"loop"}),
    (["--regenerate", "10:20", "--from", "{d}/walk.npz", "--path", "{d}/path.json"], {"regenerate", "path"}),
    (["--prompt-at", "1:A person waves."], {"extend"}),
], ids=["start_keys", "loop", "regenerate_path", "prompt_timeline"])
def test_a_directed_take_is_the_same_bytes_in_process_and_through_the_daemon(daemon, fast_engine, inputs, tmp_path, monkeypatch, flags, recorded):
    """The daemon's fast engine runs it (engine/fast/directed.py), as `generate` does in-process."""
    flags = [f.format(d=inputs) for f in flags]
    assert _generate(tmp_path / "remote.npz", [*flags, "--server", daemon.endpoint]) == 0
    monkeypatch.setattr(cli_generate, "_load_engine", lambda args, model: fast_engine)  # the daemon's engine, loaded once
    assert _generate(tmp_path / "local.npz", flags) == 0
    (remote,), (local,) = read(tmp_path / "remote.npz"), read(tmp_path / "local.npz")
    assert remote.rotations.tobytes() == local.rotations.tobytes()
    assert remote.root_translation.tobytes() == local.root_translation.tobytes()
    assert remote.metadata["constraints"] == local.metadata["constraints"]
    assert remote.metadata["engine"] == local.metadata["engine"] == "fast" and recorded <= set(remote.metadata["constraints"])


def _directed(client, inputs, field=None, arrays=None, **kw):
    if field is None:
        keys, frames = spec.read_keys(inputs / "keys.npz")
        field, arrays = to_wire(spec.Controls(keys=keys, key_frames=frames))
    return client.generate("A person waves.", duration_s=1.5, seeds=(1,), controls=(field, arrays), **kw)


def test_bad_controls_get_one_error_change_nothing_and_the_daemon_keeps_serving(daemon, inputs):
    keys, frames = spec.read_keys(inputs / "keys.npz")
    field, arrays = to_wire(spec.Controls(keys=keys, key_frames=frames))
    nan = arrays["controls.keys.rotations"].copy()
    nan[0, 4, 1, 1] = np.nan
    cases = [
        (field, {**arrays, "controls.keys.rotations": nan}, "NaN or infinity"),
        (field, {**arrays, "controls.keys.rotations": arrays["controls.keys.rotations"][:, :20].copy()}, "20 joints; the model drives 22"),
        ({**field, "keys": {**field["keys"], "frames": [10, 45]}}, arrays, "key frame 45 is outside the take"),
        (field, {**arrays, "controls.keys.transl": arrays["controls.keys.transl"].astype("<f4")}, "must be float64"),
    ]
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        for bad_field, bad_arrays, message in cases:
            with pytest.raises(ClientError) as exc:
                _directed(client, inputs, bad_field, bad_arrays).wait(30)
            assert exc.value.code == P.E_BAD_REQUEST and message in exc.value.message and "\n" not in exc.value.message
            status = client.status()
            assert status["running"] == 0 and status["waiting"] == 0
        # a version the daemon does not read: sent raw, as a newer client would
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(daemon.endpoint)
        header = {"id": "v9", "prompt": "A person waves.", "controls": {"v": 9}}
        sock.send_multipart([P.VERSION, b"GENERATE", msgpack.packb(header)])
        assert sock.poll(10_000)
        reply = P.decode(sock.recv_multipart(), allowed=P.DAEMON_COMMANDS)
        sock.close(0)
        assert reply.command == P.ERROR and reply.header["code"] == P.E_BAD_REQUEST and "version 9" in reply.header["message"]
        assert client.ping() > 0
        assert client.hello()["controls"] == [P.CONTROLS_VERSION]
        (take,) = _directed(client, inputs).wait(TAKE_TIMEOUT)  # and a good one still runs
        assert take.metadata["constraints"]["keys"]["frames"] == [10, 30]


def test_a_directed_take_reports_progress_and_can_be_cancelled(daemon, inputs):
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        handle = _directed(client, inputs)
        steps = []
        while not steps:
            steps += [e.data["step"] for e in handle.poll(TAKE_TIMEOUT) if e.kind == "progress"]
        handle.cancel()
        with pytest.raises(ClientError) as exc:
            handle.wait(60)
        assert exc.value.code == P.E_CANCELLED and steps[0] >= 1
        assert client.status()["running"] == 0


def test_a_plain_request_still_runs_as_before(daemon, fast_engine):
    """No controls: the daemon's own fast engine runs it, and the take is the same bytes as
    that engine's in-process take."""
    import torch

    request = GenerationRequest("A person walks forward.", 1.0, (3,), 5.0)
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        (remote,) = client.generate(request.prompt, duration_s=request.duration_s, seeds=request.seeds).wait(TAKE_TIMEOUT)
    assert torch.get_num_threads() == 1  # as the daemon's worker (the engine fixture set it)
    (local,) = fast_engine.generate([request])
    assert remote.metadata["engine"] == local.clip.metadata["engine"] != "reference" and "constraints" not in remote.metadata
    assert remote.rotations.tobytes() == local.clip.rotations.tobytes()
    assert remote.root_translation.tobytes() == local.clip.root_translation.tobytes()


PREVIEW_EVERY = 10
EXACT_JOINTS = [0, 2, 3, 5, 6, 8, 11]  # the joints the parity fixture's dead channels do not drive (test_generate.py)


def _start_from_walk(client, preview_every):
    walk = MOTIONS["walking"]()
    controls = to_wire(spec.Controls(start=spec.start_poses(walk, 40, Path("walk.npz"))))
    handle = client.generate("A person waves.", duration_s=1.5, seeds=(1,), controls=controls, preview_every=preview_every)
    return handle.wait(TAKE_TIMEOUT), handle.poll()


@pytest.fixture(scope="module")
def previewed(daemon):
    """A directed take (start from frame 40 of a walk) asked with previews: its take and every
    event the client got."""
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        return _start_from_walk(client, PREVIEW_EVERY)


def test_a_directed_take_sends_previews_of_its_frames_that_start_in_its_start_pose(previewed):
    (take,), events = previewed
    walk = MOTIONS["walking"]()
    previews = [e for e in events if e.kind == "preview"]
    assert [e.data["step"] for e in previews] == list(range(PREVIEW_EVERY, 51, PREVIEW_EVERY))
    steps = [e.data["step"] for e in events if e.kind in ("progress", "preview")]
    assert steps == list(range(1, 51))  # a PROGRESS with previews stands in for the bare one
    for e in previews:
        (clip,) = e.clips
        assert clip.num_frames == take.num_frames == 45 and clip.skeleton.names == take.skeleton.names
        # the known frames are imposed and placed as the final decode does: frame 0 is the take's
        cm, deg = pose_errors(clip, 0, take, 0)
        assert cm < 1e-3 and deg < 1e-3, (e.data["step"], cm, deg)
    last = previews[-1].clip
    cm, deg = pose_errors(last, 0, walk, 40, EXACT_JOINTS)
    assert cm <= 1.0 and deg <= 1.0, (cm, deg)
    assert np.abs(last.world()[1][0, 0, [0, 2]] - walk.world()[1][40, 0, [0, 2]]).max() < 1e-4  # ground plane: exact
    # an early preview is the step's estimate, not the take: its free frames are elsewhere
    assert pose_errors(previews[0].clip, 30, take, 30)[0] > 1.0


def test_previews_leave_a_directed_take_unchanged(daemon, previewed):
    takes, _ = previewed
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        plain, events = _start_from_walk(client, 0)
    assert not [e for e in events if e.kind == "preview"]
    for with_previews, without in zip(takes, plain, strict=True):
        assert with_previews.rotations.tobytes() == without.rotations.tobytes()
        assert with_previews.root_translation.tobytes() == without.root_translation.tobytes()


def test_a_plain_request_previews_as_before(daemon, fast_engine):
    """No controls: the daemon's previews are the in-process engine's, bytes for bytes."""
    request = GenerationRequest("A person walks forward.", 1.0, (3,), 5.0, request_id="plain")
    with MotionBridgeClient(daemon.endpoint, timeout_s=10) as client:
        handle = client.generate(request.prompt, duration_s=request.duration_s, seeds=request.seeds, preview_every=PREVIEW_EVERY)
        handle.wait(TAKE_TIMEOUT)
        remote = [e for e in handle.poll() if e.kind == "preview"]
    local = []
    fast_engine.generate([request], preview_every=PREVIEW_EVERY, on_step=lambda info: info.previews and local.append(info))
    assert [e.data["step"] for e in remote] == [i.step for i in local] == list(range(PREVIEW_EVERY, 51, PREVIEW_EVERY))
    for event, info in zip(remote, local):
        (got,), (want,) = event.clips, info.previews["plain"]
        assert got.rotations.tobytes() == want.rotations.tobytes()
        assert got.root_translation.tobytes() == want.root_translation.tobytes()


class OldDaemon:
    """A ROUTER on loopback that answers HELLO as a daemon from before controls did, and
    records every command it gets."""

    def __init__(self):
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.commands: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            if not self.sock.poll(50):
                continue
            client, *frames = self.sock.recv_multipart()
            msg = P.decode(frames)
            self.commands.append(msg.command)
            if msg.command == P.HELLO:
                header = {"id": msg.header["id"], "protocol": 1, "heartbeat_s": 1.0, "previews": True}
                self.sock.send_multipart([client, *P.encode(P.Message(P.HELLO, header))])

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close(0)


def test_an_old_daemon_is_never_sent_controls(inputs, tmp_path, capsys):
    old = OldDaemon()
    try:
        rc = main(["generate", "A person waves.", "--keys", str(inputs / "keys.npz"), "--server", old.endpoint, "--out", str(tmp_path / "t.npz")])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and "does not take directed takes" in err, err
        assert old.commands == [P.HELLO] and not (tmp_path / "t.npz").exists()
    finally:
        old.close()


def test_a_cancelled_directed_take_stops_at_the_next_step(engine, inputs):
    """In the worker's code path, in-process: once cancelled, no further Euler step runs."""
    from motionbridge.daemon.controls.served import generate_directed
    from motionbridge.daemon.engine.api import Cancelled

    keys, frames = spec.read_keys(inputs / "keys.npz")
    steps: list[int] = []
    request = GenerationRequest("A person waves.", 1.5, (1,), 5.0, request_id="r")
    with pytest.raises(Cancelled):
        generate_directed(engine, request, spec.Controls(keys=keys, key_frames=frames), lambda info: steps.append(info.step),
                          lambda rid: rid == "r" and len(steps) >= 3)
    assert steps == [1, 2, 3]
