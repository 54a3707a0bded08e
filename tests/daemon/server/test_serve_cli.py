"""`motionbridge serve` options that reach the server's config."""

from __future__ import annotations

import argparse

import pytest

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.server.cli import add_arguments, build_config, is_loopback


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
