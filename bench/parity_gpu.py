"""On the GPU: the fast engine on the parity fixture (stored text features) against the
official float32 outputs, per mode. Prints and writes $OUT/parity_gpu.json."""

import json
import os
from pathlib import Path

import numpy as np
import torch

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.decode import decode_batched
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.text.cache import CachedText

torch.backends.cuda.matmul.allow_tf32 = False
parity = Path(os.environ["MOTIONBRIDGE_PARITY_DIR"])
exp = np.load(parity / "expected.npz")
cases = json.loads((parity / "cases.json").read_text())["cases"]
modes = {
    "fp32": FastConfig(),
    "fp32_graphs": FastConfig(cuda_graphs=True),
    "bf16": FastConfig(dtype="bfloat16"),
    "bf16_graphs": FastConfig(dtype="bfloat16", cuda_graphs=True),
    "bf16_compiled": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True),
    "fp32_compiled": FastConfig(cuda_graphs=True, compile_blocks=True),
    "fp32_side_stream": FastConfig(cuda_graphs=True, compile_blocks=True, text_side_stream=True),
    "bf16_side_stream": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True, text_side_stream=True),
    "fp32_stack": FastConfig(cuda_graphs=True, compile_blocks=True, text_side_stream=True, compile_scope="stack"),
    "bf16_stack": FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=True, text_side_stream=True, compile_scope="stack"),
}
modes["gpu_default"] = FastConfig.for_device("cuda")  # as the daemon runs it
modes["fp32_gpu_default"] = FastConfig.for_device("cuda", "float32")
if os.environ.get("PARITY_MODES"):  # e.g. PARITY_MODES=fp32,bf16_stack
    modes = {k: v for k, v in modes.items() if k in os.environ["PARITY_MODES"].split(",")}
base = FastEngine.from_parity(parity, device="cuda")
report = {}
for name, fast in modes.items():
    eng = FastEngine(base.model, base.config, base.text, fast, device="cuda", model_name="parity-fixture")
    for c in cases:
        n = int(exp[c["name"] + "/ctxt_length"][0])
        eng.cache.put(c["text"], CachedText(torch.from_numpy(exp[c["name"] + "/ctxt_raw"][0, :n]), torch.from_numpy(exp[c["name"] + "/vtxt_raw"][0])))
    reqs = [GenerationRequest(c["text"], c["duration_s"], tuple(c["seeds"]), c["cfg_scale"], c["use_special_game_feat"], c["name"]) for c in cases]
    takes = eng.generate(reqs)
    lat, joints = 0.0, 0.0
    for t in takes:
        i = [c["seeds"] for c in cases if c["name"] == t.request_id][0].index(t.seed)
        lat = max(lat, float(np.abs(t.latent - exp[f"{t.request_id}/latent"][i]).max()))
        k3d = exp[f"{t.request_id}/keypoints3d"][i][:, :22] + exp[f"{t.request_id}/transl"][i][:, None]

        d = decode_batched(torch.from_numpy(t.latent)[None].cuda(), eng.model.mean, eng.model.std, eng.body)
        mine = (d.keypoints3d + d.transl[:, :, None])[0, :, :22].cpu().numpy()
        joints = max(joints, float(np.abs(mine - k3d).max()) * 100)
    report[name] = {"latent_max_abs": lat, "joints_max_abs_cm": joints, "takes": len(takes)}
    print(name, report[name], flush=True)
out = os.environ.get("OUT")
if out:
    Path(out, "parity_gpu.json").write_text(json.dumps(report, indent=2))
