"""Fixtures for batch tests: the tiny real engine, takes files, and a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def batch_env() -> dict[str, str]:
    """Environment for subprocesses: this checkout's packages plus the test engine module."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(HERE)]).strip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


ENGINE_ARGS = ["--engine-factory", "tiny_engine:make", "--device", "cpu", "--dtype", "float32"]


@pytest.fixture(scope="session")
def engine_args(parity) -> list[str]:
    """CLI arguments that pick the tiny real engine (needs the parity fixture)."""
    return list(ENGINE_ARGS)


@pytest.fixture(scope="session")
def engine(parity):
    """One tiny engine for every in-process test (loading it costs seconds)."""
    import tiny_engine

    return tiny_engine.make()


@pytest.fixture(scope="session")
def engine_spec(parity):
    from motionbridge.daemon.batch.engines import EngineSpec

    return EngineSpec(factory="tiny_engine:make", device="cpu", dtype="float32")
