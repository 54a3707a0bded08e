"""Engine test helpers: the parity engine with the fixture's stored text features, and a tiny
random engine with few steps for behaviour tests. One torch thread: on a shared 2-core CI
machine that is several times faster than two contending threads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from fixture_cases import case_prompts

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.text.cache import CachedText


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def expected(parity):
    return np.load(parity / "expected.npz", allow_pickle=False)


@pytest.fixture(scope="session")
def cases(parity):
    return {c["name"]: c for c in json.loads((parity / "cases.json").read_text())["cases"]}


def prime_with_fixture_text(engine: FastEngine, expected, cases) -> None:
    """Put the official (bf16 Qwen) text features into the engine's cache, so that the DiT
    path is compared exactly; the text encoder is tested on its own."""
    for name, c in cases.items():
        for row, prompt in enumerate(case_prompts(c)):
            n = int(expected[f"{name}/ctxt_length"][row])
            feat = CachedText(torch.from_numpy(expected[f"{name}/ctxt_raw"][row, :n]), torch.from_numpy(expected[f"{name}/vtxt_raw"][row]))
            engine.cache.put(prompt, feat)


@pytest.fixture(scope="session")
def parity_engine(parity, expected, cases):
    engine = FastEngine.from_parity(parity)
    prime_with_fixture_text(engine, expected, cases)
    return engine


def tiny_engine(steps: int = 3, fast: FastConfig | None = None) -> FastEngine:
    return tiny_random_engine("cpu", steps, **dataclasses.asdict(fast or FastConfig()))
