"""`motionbridge serve` options that reach the server's config."""

from __future__ import annotations

import argparse

import pytest

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.server.cli import add_arguments, build_config


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
