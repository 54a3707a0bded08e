"""Train the smooth fixture model: HY-Motion's architecture, tiny, trained on synthetic motion.

    PYTHONPATH=.pkgroot python -m motionbridge.daemon.controls.train_smooth_fixture \
        [--parity ../shared/parity] [--out tests/fixtures/smooth_model] [--minutes 9]

Random weights make noise, so seams, loops and foot skate cannot be measured on the parity
fixture. This model is the parity fixture's architecture and config format (MotionFlowModel,
config.yml, safetensors) with a 2 s window, trained by flow matching (x_t = (1 - t)·ε + t·x₁,
target x₁ - ε, t = 0 noise as in the official sampler) on the synthetic walks, waves and
squats of rigs/synthetic.py with random speed, stride, depth, heading and start phase,
encoded by daemon/model/encode.py and normalised with this data's own mean and std (a floor
of 0.01 keeps the channels the data never moves live). The text features come from the
parity fixture's tiny text encoders on the three PROMPTS (10% of the rows get the null
features, so classifier-free guidance has an unconditional branch). feat_dim must be at
least the latent's 201 values: a narrower network cannot carry the noise it has to remove
(a first try at 64 gave noise). One torch thread, seeded; training stops at --minutes of
wall time, or after --steps (deterministic: the learning rate then decays over the steps).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from motionbridge.daemon.model.config import network_config_from_dict
from motionbridge.daemon.model.encode import model_pose, motion_features
from motionbridge.daemon.model.mmdit import MotionFlowModel
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.synthetic import squatting, walking, waving

PROMPTS = {
    "walking": "A person walks forward.",
    "waving": "A person waves with the right hand.",
    "squatting": "A person squats down and stands up.",
}
WINDOW = 60  # frames (2 s at 30 fps): the fixture's train_frames (short, so minutes of training suffice)
STD_FLOOR = 0.01  # channels the data never moves (joints that never turn, the pelvis' own root-relative position) stay live
NETWORK = {
    "apply_rope_to_single_branch": False, "ctxt_input_dim": 64, "dropout": 0.0, "feat_dim": 208, "input_dim": 201,
    "mask_mode": "narrowband", "mlp_ratio": 2.0, "num_heads": 4, "num_layers": 3, "text_refiner_cfg": {"num_layers": 1},
    "time_factor": 1000.0, "vtxt_input_dim": 32,
}
PIPELINE = {
    "text_encoder_module": "hymotion/network/text_encoders/text_encoder.HYTextModel",
    "text_encoder_cfg": {"llm_type": "qwen3", "max_length_llm": 128},
    "noise_scheduler_cfg": {"method": "euler"},
    "infer_noise_scheduler_cfg": {"validation_steps": 50},
    "test_cfg": {"mean_std_dir": "stats", "text_guidance_scale": 5.0},
    "train_frames": WINDOW, "output_mesh_fps": 30, "enable_special_game_feat": True, "enable_ctxt_null_feat": True,
    "random_generator_on_gpu": False, "uncondition_mode": False,
}


def _long_clip(kind: str, rng: np.random.Generator) -> Clip:
    if kind == "walking":
        return walking(seconds=9.0, cycle_s=rng.uniform(0.9, 1.3), stride_deg=rng.uniform(20, 34))
    if kind == "waving":
        return waving(seconds=6.0)
    period = rng.uniform(1.6, 3.0)
    one = squatting(seconds=period, depth_deg=rng.uniform(50, 90))
    reps = int(np.ceil(8.0 / period))
    return one.replace(rotations=np.tile(one.rotations, (reps, 1, 1)), root_translation=np.tile(one.root_translation, (reps, 1)))


def sample_clip(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One WINDOW-frame training example (denormalised latent, (WINDOW, 201))."""
    clip = _long_clip(kind, rng)
    first = int(rng.integers(0, clip.num_frames - WINDOW + 1)) if kind != "waving" else int(rng.integers(0, 30))
    rot, transl = model_pose(clip)
    rot, transl = rot[first : first + WINDOW], transl[first : first + WINDOW].copy()
    yaw = quat.to_matrix(quat.from_axis_angle(np.array([0.0, rng.uniform(-np.pi / 6, np.pi / 6), 0.0])))
    rot[:, 0] = yaw[None] @ rot[:, 0]
    transl[:, [0, 2]] -= transl[0, [0, 2]]  # each example starts near the origin, as a take does
    transl = transl @ yaw.T + np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
    return motion_features(rot, transl)


def dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    kinds = list(PROMPTS)
    labels = np.arange(count) % len(kinds)
    return np.stack([sample_clip(kinds[k], rng) for k in labels]), labels


def text_features(parity: Path):
    from motionbridge.daemon.model.text_encoder import TextEncoder

    te = TextEncoder(parity / "text_encoders" / "qwen3", parity / "text_encoders" / "clip", 128)
    return te.encode(list(PROMPTS.values()))


def train(parity: Path, out: Path, minutes: float, steps: int | None = None, examples: int = 1536, batch: int = 8, seed: int = 0) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    data, labels = dataset(examples, seed)
    mean = data.reshape(-1, 201).mean(0)
    std = np.maximum(data.reshape(-1, 201).std(0), STD_FLOOR)
    z = torch.from_numpy((data - mean) / std).float()
    feats = text_features(parity)
    cfg = network_config_from_dict(NETWORK)
    model = MotionFlowModel(cfg)
    model.mean.copy_(torch.from_numpy(mean).float())
    model.std.copy_(torch.from_numpy(std).float())
    dit = model.motion_transformer
    params = list(dit.parameters()) + [model.null_vtxt_feat, model.null_ctxt_input]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    # the padding past the longest prompt is masked out: dropping it changes nothing but the cost
    used = int(feats.ctxt_length.max())
    ctxt_all, vtxt_all = feats.ctxt[:, :used].float(), feats.vtxt.float()
    ctxt_mask_all = torch.arange(used)[None] < feats.ctxt_length[:, None]
    budget = minutes * 60 - (time.perf_counter() - t_start)
    t_loop, step, losses = time.perf_counter(), 0, []
    while time.perf_counter() - t_loop < budget and (steps is None or step < steps):
        frac = step / steps if steps else (time.perf_counter() - t_loop) / budget
        for g in opt.param_groups:  # a short warm-up, then cosine decay over the wall-clock budget
            g["lr"] = 1.5e-3 * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        idx = torch.randint(0, len(z), (batch,), generator=gen)
        # one length per batch, the batch cut to it (the cost scales with it)
        length = int(torch.randint(20, WINDOW + 1, (1,), generator=gen))
        x1 = z[idx, :length]
        x_mask = torch.ones(batch, length, dtype=torch.bool)
        lab = torch.from_numpy(labels[idx.numpy()])
        ctxt, vtxt, cmask = ctxt_all[lab], vtxt_all[lab], ctxt_mask_all[lab]
        drop = torch.rand(batch, generator=gen) < 0.1
        ctxt = torch.where(drop[:, None, None], model.null_ctxt_input.expand_as(ctxt), ctxt)
        vtxt = torch.where(drop[:, None, None], model.null_vtxt_feat.expand_as(vtxt), vtxt)
        t = torch.sigmoid(torch.randn(batch, generator=gen) * 1.2)  # logit-normal times, as rectified-flow training
        eps = torch.randn(x1.shape, generator=gen)
        x_t = (1 - t[:, None, None]) * eps + t[:, None, None] * x1
        v = dit(x_t, ctxt, vtxt, t, x_mask, cmask)
        err = ((v - (x1 - eps)) ** 2).mean(-1)
        loss = (err * x_mask).sum() / x_mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 500 == 0:
            save(model, out)  # a snapshot, overwritten at the end
        if step % 200 == 0:
            lr = opt.param_groups[0]["lr"]
            print(f"step {step} loss {np.mean(losses[-200:]):.4f} lr {lr:.2e} {time.perf_counter() - t_start:.0f}s", flush=True)
    save(model, out)
    info = {"steps": step, "final_loss": float(np.mean(losses[-200:])), "seconds": time.perf_counter() - t_start,
            "examples": examples, "batch": batch}
    print(info)
    return info


def save(model: MotionFlowModel, out: Path) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    (out / "stats").mkdir(exist_ok=True)
    config = {"network_module": "hymotion/network/hymotion_mmdit.HunyuanMotionMMDiT", "network_module_args": NETWORK,
              "train_pipeline": "hymotion/pipeline/motion_diffusion.MotionFlowMatching", "train_pipeline_args": PIPELINE}
    (out / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # float16 halves the file; the loader casts to the run's dtype. mean/std stay float32 (metres)
    sd = {k: v.detach().clone() if k in ("mean", "std") else v.detach().half() for k, v in model.state_dict().items()}
    sd = {k: v.contiguous() for k, v in sd.items()}
    save_file(sd, str(out / "model.safetensors"))
    np.save(out / "stats" / "Mean.npy", sd["mean"].double().numpy())
    np.save(out / "stats" / "Std.npy", sd["std"].double().numpy())


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parity", type=Path, default=root.parent / "shared" / "parity")
    parser.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "smooth_model")
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (the learning rate decays over them)")
    args = parser.parse_args()
    train(args.parity, args.out, args.minutes, args.steps)


if __name__ == "__main__":
    main()
