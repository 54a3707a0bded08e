"""Compile functions for the compile-child tests, importable by name ("child_compilers:recording")
in the test's process and in the compile child alike (the test puts this folder on PYTHONPATH).
Each 'compiled' function is the function itself; `recording` appends a line per call to the
file named by $MOTIONBRIDGE_TEST_COMPILE_RECORD (the process, the shapes of the tensor
arguments, whether ZeroMQ was imported, the process's niceness), `hanging` records once and then never returns,
`failing` raises."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

RECORD_ENV = "MOTIONBRIDGE_TEST_COMPILE_RECORD"


def _record(args, event: str) -> None:
    line = {"pid": os.getpid(), "event": event, "zmq": "zmq" in sys.modules, "nice": os.nice(0) if hasattr(os, "nice") else 0,
            "shapes": [list(a.shape) for a in args if isinstance(a, torch.Tensor)]}
    with open(os.environ[RECORD_ENV], "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def read_record(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()] if os.path.exists(path) else []


def recording(fn):
    def compiled(*args, **kwargs):
        _record(args, "call")
        return fn(*args, **kwargs)
    return compiled


def hanging(fn):
    def compiled(*args, **kwargs):
        _record(args, "hang")
        while True:
            time.sleep(1)
    return compiled


def failing(fn):
    def compiled(*args, **kwargs):
        raise RuntimeError("inductor: lowering failed (injected)")
    return compiled
