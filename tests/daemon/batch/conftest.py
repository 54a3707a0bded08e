"""Fixtures for batch tests: the engine to run on, takes files, and a CLI runner.

The engine is the real in-process one on the tiny parity fixture when this checkout has it
(`motionbridge.daemon.engine.reference`); otherwise the seeded stand-in next to this file.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def has_reference_engine() -> bool:
    try:
        return importlib.util.find_spec("motionbridge.daemon.engine.reference") is not None
    except ImportError:
        return False


@pytest.fixture(scope="session")
def batch_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(HERE)]).strip(os.pathsep)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture(scope="session")
def engine_args(request) -> list[str]:
    """CLI arguments that pick the test engine."""
    if has_reference_engine():
        parity = request.getfixturevalue("parity")
        return ["--parity", str(parity), "--device", "cpu", "--dtype", "float32"]
    return ["--engine-factory", "standin_engine:make", "--device", "cpu", "--dtype", "float32"]


@pytest.fixture(scope="session")
def make_engine(engine_args):
    """Builds the same engine in this process."""
    from motionbridge.daemon.batch.engines import EngineSpec

    args = dict(zip(engine_args[::2], engine_args[1::2]))
    spec = EngineSpec(parity_dir=args.get("--parity"), factory=args.get("--engine-factory"), device="cpu", dtype="float32")
    return spec.build


def write_takes(path: Path, count: int, prompts: int = 4, duration: float = 1.0, extra: dict[int, dict] | None = None) -> Path:
    """A JSONL takes file of `count` single-seed rows cycling through `prompts` prompts."""
    import json

    extra = extra or {}
    verbs = ["walks forward", "jumps twice", "waves with the right hand", "turns left", "kicks", "sits down"]
    with open(path, "w") as fh:
        for i in range(count):
            row = {"name": f"t{i:02d}", "prompt": f"A person {verbs[i % prompts]}.", "duration": duration, "seed": i, "cfg": 5.0}
            row.update(extra.get(i, {}))
            fh.write(json.dumps(row) + "\n")
    return path


def run_cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "motionbridge.daemon.cli", "batch", *args],
        env=env, capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), **kwargs,
    )
