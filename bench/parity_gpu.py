"""On the GPU: the fast engine on the parity fixture (its stored text features) against the
official float32 latents, one mode per process (a failed capture can leave CUDA state that
fails every later mode). Bisects which fast mode breaks exactness: each mode switches one
feature of the compiled float32 configuration (the bfloat16 GPU default's modes in float32,
wrong on an H100: bench/results/2026-12-07-h100-session8.md) off.

    python3 bench/parity_gpu.py                 # every mode, each in a child process
    python3 bench/parity_gpu.py MODE            # one mode in this process
    PARITY_MODES=a,b python3 bench/parity_gpu.py  # those modes only, each in a child process
Prints one JSON line per mode and writes $OUT/parity_gpu.json. Reads the cases through the
tests' fixture helpers, so any fixture made like shared/parity works (prompts as lists too)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "daemon"))

# mode -> the compiled float32 configuration's fields it changes
MODES: dict[str, dict] = {
    "compiled_fp32": {},
    "no_graphs": {"cuda_graphs": False, "buckets": True},  # compiled, run eagerly
    "no_compile": {"compile_blocks": False},  # captured graphs of the uncompiled network
    "no_text_table": {"text_kv_mib": 0},  # the joint loop (side stream) instead of the motion-only loop
    "no_side_stream": {"text_side_stream": False, "text_kv_mib": 0},
    "not_batch_invariant": {"batch_invariant": False},
    "one_segment": {"graph_segment_steps": 1000},  # the loop in one graph
    "per_step_graph": {"graph_tables_mib": 0, "text_kv_mib": 0},  # one step replayed per step, tables eager
    "scope_blocks": {"compile_scope": "blocks"},
    "bf16_default": {"dtype": "bfloat16", "batch_invariant": False},  # for the deviation's size only
    "fp32_gpu_default": {"compile_blocks": False, "text_side_stream": False, "text_kv_mib": 0},  # FastConfig.for_device("cuda", "float32")
}


def run_mode(name: str) -> dict:
    import numpy as np
    import torch
    from fixture_cases import case_prompts, case_row, requests, two_lengths

    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.engine.text.cache import CachedText

    torch.backends.cuda.matmul.allow_tf32 = False
    parity = Path(os.environ["MOTIONBRIDGE_PARITY_DIR"])
    expected = np.load(parity / "expected.npz")
    cases = {c["name"]: c for c in json.loads((parity / "cases.json").read_text())["cases"]}
    compiled = dataclasses.replace(FastConfig.for_device("cuda"), dtype="float32", background_compile=False, compile_in_child=False, batch_invariant=True)
    fast = dataclasses.replace(compiled, **MODES[name])
    device = os.environ.get("PARITY_DEVICE", "cuda")  # cpu: a smoke run of the script itself (no_graphs mode)
    engine = FastEngine.from_parity(parity, fast, device=device)
    for case_name, c in cases.items():
        for row, prompt in enumerate(case_prompts(c)):
            n = int(expected[f"{case_name}/ctxt_length"][row])
            engine.cache.put(prompt, CachedText(torch.from_numpy(expected[f"{case_name}/ctxt_raw"][row, :n]),
                                                torch.from_numpy(expected[f"{case_name}/vtxt_raw"][row])))
    report: dict = {"mode": name, "changes": MODES[name], "device": torch.cuda.get_device_name(0) if device == "cuda" else device, "torch": torch.__version__}
    names = two_lengths(cases)
    for run in range(2):  # the second run replays the captured graphs with a new batch copied in
        errors = {}
        for take in engine.generate(requests(cases, names)):
            case_name, i = case_row(cases, take.request_id, take.seed)
            ref = expected[f"{case_name}/latent"][i]
            errors[f"{case_name}/{take.seed}"] = {"max_abs": float(np.nanmax(np.abs(take.latent - ref))), "nan": int(np.isnan(take.latent).sum())}
        report[f"run{run}"] = errors
    report["captured"] = {str(k): type(v).__name__ for k, v in engine.graphs.entries.items()}
    return report


def main() -> int:
    out = Path(os.environ.get("OUT", "."))
    if len(sys.argv) > 1:
        try:
            print(json.dumps(run_mode(sys.argv[1])), flush=True)
        except Exception as exc:  # noqa: BLE001 - a diagnostic: report the mode's failure as its result
            print(json.dumps({"mode": sys.argv[1], "error": f"{type(exc).__name__}: {str(exc)[:300]}"}), flush=True)
        return 0
    results = []
    chosen = [m for m in os.environ.get("PARITY_MODES", "").split(",") if m] or list(MODES)  # a subset, to fit a device call
    for name in chosen:
        try:
            proc = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True, timeout=float(os.environ.get("MODE_S", "150")))
        except subprocess.TimeoutExpired:
            results.append({"mode": name, "error": "timed out"})
        else:
            line = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("{")), None)
            results.append(json.loads(line) if line else {"mode": name, "error": proc.stderr[-300:]})
        print(json.dumps(results[-1]), flush=True)
    (out / "parity_gpu.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
