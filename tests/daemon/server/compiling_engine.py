"""A tiny random fast engine whose 'compiler' never finishes (mode=hang), fails (mode=fail)
or compiles nothing at once (mode=ok) on the background compile thread, for the daemon tests of the progress stage and of a
compile that must not hold up the daemon. `--engine-factory compiling_engine:make_engine`."""

from __future__ import annotations

import threading

from motionbridge.daemon.bench.random_models import tiny_random_engine


def make_engine(device: str = "cpu", mode: str = "hang"):
    never = threading.Event()

    def compile_with(fn):
        def compiled(*args, **kwargs):  # on whichever thread calls it: a request must never
            if mode == "fail":
                raise RuntimeError("inductor: lowering failed (injected)")
            if mode == "hang":
                never.wait()  # a compile that takes for ever
            return fn(*args, **kwargs)
        return compiled

    # the third prompt is the warm-up's (FastEngine.warm_up's default)
    return tiny_random_engine(device, 3, prompts=("A person walks.", "A person jumps.", "A person walks forward."), compile_with=compile_with,
                              buckets=True, compile_blocks=True, background_compile=True)
