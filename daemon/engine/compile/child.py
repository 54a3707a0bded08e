"""The compile child: `python -m motionbridge.daemon.engine.compile.child`, a spec as JSON on stdin.

It compiles one batch shape of an engine (the parent, compile/child_job.py) in a fresh
interpreter, so that Inductor's and Triton's on-disk caches hold that shape's code before the
parent compiles it in-process. Compiled code depends on the shapes and dtypes of the weights,
not their values (what `motionbridge warm --random` relies on too), so the child builds random
weights of the parent's ModelConfig on the parent's device: only the DiT, never the text
encoders. It holds one copy of the DiT's weights while it compiles (1.0B in bfloat16: about
2 GB of device memory beside the parent's). Background compiling is off in the child; it
compiles the shape with `FastEngine.precompile` and exits 0, or prints one line on stderr and
exits 1. It dies with its parent (server/parent_watch.py).

The spec: `model_config` and `fast_config` (the parent's, as dicts), `device`, `shape`
(frames, text_tokens and rows of the batch, as padded by the parent), `compile_with` (a
"module:function" compile function, or None for torch.compile with the config's settings),
`env` (the compile cache folders) and `parent_pid`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from motionbridge.daemon.engine.compile.child_spec import configs_from_spec

CHILD_NICENESS = 10  # added to the parent's: the serving process is host-bound (thousands of
# kernel launches per take) and must win the cores that Inductor's compile workers also want


def compile_shape(spec: dict) -> None:
    import torch

    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.model.random_weights import random_flow_model

    model_config, fast = configs_from_spec(spec)
    # one compile here, now, on this thread; no text cache folder shared with the parent
    fast = dataclasses.replace(fast, background_compile=False, compile_in_child=False, text_cache_dir=None)
    model = random_flow_model(model_config, spec["device"])
    engine = FastEngine(model, model_config, None, fast, device=spec["device"], compile_with=spec["compile_with"])
    if engine.dit is not model.motion_transformer:  # the engine compiles its own copy: free the original
        model.motion_transformer = None
        if engine.device.type == "cuda":
            torch.cuda.empty_cache()
    shape = spec["shape"]
    engine.precompile(shape["frames"] / model_config.pipeline.output_mesh_fps, shape["text_tokens"], shape["rows"])


def main() -> int:
    try:
        spec = json.loads(sys.stdin.read())
        from motionbridge.daemon.server.parent_watch import die_with_parent

        die_with_parent(int(spec["parent_pid"]))
        if hasattr(os, "nice"):  # inherited by the compile workers it starts
            os.nice(CHILD_NICENESS)
        os.environ.update(spec["env"])  # before torch reads them
        compile_shape(spec)
    except BaseException as exc:  # any failure is the parent's one-line error
        print(f"{type(exc).__name__}: {exc}".splitlines()[0][:500], file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
