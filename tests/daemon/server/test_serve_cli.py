"""`motionbridge serve` options that reach the server's config."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest
from daemon_proc import DaemonProcess

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.protocol.client import MotionBridgeClient
from motionbridge.daemon.server.cli import add_arguments, build_config, is_loopback
from motionbridge.daemon.server.server import ServerConfig


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--engine-factory", "toy_engine:make_engine", *argv])


def test_step_timeout_reaches_the_config():
    assert build_config(_parse()).step_timeout_s == 300.0
    assert build_config(_parse("--step-timeout", "2.5")).step_timeout_s == 2.5


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_step_timeout_must_be_positive(value):
    with pytest.raises(CliError, match="--step-timeout must be more than 0"):
        build_config(_parse("--step-timeout", value))


def test_load_timeout_and_retry_reach_the_config():
    config = build_config(_parse())
    assert (config.load_timeout_s, config.load_retry_s) == (600.0, 10.0)
    config = build_config(_parse("--load-timeout", "90", "--load-retry", "0.5"))
    assert (config.load_timeout_s, config.load_retry_s) == (90.0, 0.5)


@pytest.mark.parametrize("flag", ["--load-timeout", "--load-retry"])
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_load_timeout_and_retry_must_be_positive(flag, value):
    with pytest.raises(CliError, match=f"{flag} must be more than 0"):
        build_config(_parse(flag, value))


def test_warm_up_lengths_reach_the_engine_spec():
    assert build_config(_parse()).engine.warm_up is None  # the worker decides: 2,3,5 s on a GPU
    assert build_config(_parse("--warm-up", "2,5")).engine.warm_up == (2.0, 5.0)
    assert build_config(_parse("--warm-up", "none")).engine.warm_up == ()
    assert build_config(_parse()).engine.dtype == "auto"


def test_cpu_workers_build_their_engines_on_the_cpu():
    # several CPU workers are [None, None, ...] GPUs: no GPU, so no CUDA device for the engine
    assert build_config(_parse("--device", "cpu", "--workers", "2")).engine.device == "cpu"
    assert build_config(_parse("--device", "cpu")).engine.device == "cpu"


@pytest.mark.parametrize("value", ["x", "0", "13", "2,,-1"])
def test_warm_up_refuses_bad_lengths(value):
    with pytest.raises(CliError, match="--warm-up"):
        build_config(_parse("--warm-up", value))


@pytest.mark.parametrize("bind", ["tcp://127.0.0.1:7719", "tcp://127.3.2.1:7719", "tcp://localhost:7719",
                                  "tcp://LOCALHOST:1", "tcp://[::1]:7719", "tcp://lo:7719", "ipc:///tmp/mb.sock"])
def test_loopback_spellings_are_loopback(bind):
    assert is_loopback(bind)


@pytest.mark.parametrize("bind", ["tcp://0.0.0.0:7719", "tcp://*:7719", "tcp://eth0:7719", "tcp://10.0.0.5:7719",
                                  "tcp://[::]:7719", "tcp://128.0.0.1:7719", "tcp://lol:7719"])
def test_other_binds_are_public(bind):
    assert not is_loopback(bind)


def test_the_default_bind_is_loopback():
    assert is_loopback(build_config(_parse()).bind) and is_loopback(ServerConfig().bind)


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp* print them) of sockets listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.append(local.rsplit(":", 1)[0])
    return found


def _outward_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the socket table from /proc")
def test_serve_without_bind_listens_on_loopback_only():
    try:
        d = DaemonProcess("--engine-factory", "toy_engine:make_engine", bind=None)
    except RuntimeError as exc:  # another daemon (or test run) holds the default port
        if "Address already in use" in str(exc):
            pytest.skip("the default port 7719 is taken on this machine")
        raise
    try:
        assert d.endpoint == "tcp://127.0.0.1:7719"
        assert _listening(7719) == ["0100007F"], "listens on 127.0.0.1 only, not 0.0.0.0 or ::"
        with MotionBridgeClient(d.endpoint, timeout_s=5.0) as c:
            assert c.ping() < 5.0
        address = _outward_address()
        if address is not None:  # a non-loopback address of this machine is refused
            with pytest.raises(OSError):
                socket.create_connection((address, 7719), timeout=2.0).close()
    finally:
        assert d.stop() == 0


def test_workers_sets_the_number_of_cpu_workers():
    assert build_config(_parse()).gpus == [None]
    assert build_config(_parse("--workers", "2")).gpus == [None, None]


@pytest.mark.parametrize("argv, words", [(("--workers", "0"), "between 1 and 64"),
                                         (("--workers", "2", "--device", "cuda:0"), "for --device cpu")])
def test_workers_refuses_bad_values(argv, words):
    with pytest.raises(CliError, match=words):
        build_config(_parse(*argv))


def test_low_vram_reaches_the_engine_spec_and_builds_a_quantised_qwen(parity):
    assert build_config(_parse()).engine.low_vram == ""  # off by default: everything resident
    assert build_config(_parse("--low-vram")).engine.low_vram == "int8"  # the flag alone: int8 Qwen3
    assert build_config(_parse("--low-vram", "stream")).engine.low_vram == "stream"
    with pytest.raises(CliError, match="^--low-vram is for the fast engine"):
        build_config(_parse("--low-vram", "--engine", "reference"))
    spec = build_config(_parse("--low-vram", "int4")).engine
    spec.factory, spec.parity = None, str(parity)
    engine = spec.build()
    assert engine.text.weights == "int4" and engine.cache.dtype == "bfloat16-int4"
    from motionbridge.daemon.engine.api import GenerationRequest

    [take] = engine.with_steps(2).generate([GenerationRequest("A person walks.", 1.0, (0,), 5.0)])  # encoded by the int4 Qwen
    assert take.clip.num_frames == 30 and engine.cache.misses == 1
