"""Finding and loading the official weights, safely.

Layout under $MOTIONBRIDGE_HOME (default ~/.cache/motionbridge), as the official repos ship it:
    HY-Motion-1.0/        config.yml, latest.ckpt ({"model_state_dict": ...}), stats/Mean.npy, Std.npy
    HY-Motion-1.0-Lite/   the same
    Qwen3-8B/             Hugging Face snapshot
    clip-vit-large-patch14/  Hugging Face snapshot
`model.safetensors` beside latest.ckpt is preferred (memory-mapped; `motionbridge weights
convert` writes it). Nothing is ever unpickled: torch.load(weights_only=True) only.
Every failure is one WeightsError naming the file and what to do; never random weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import ModelConfig, load_config
from .mmdit import MotionFlowModel, build_on_meta

MODEL_DIRS = {"1.0": "HY-Motion-1.0", "lite": "HY-Motion-1.0-Lite"}
QWEN_DIR = "Qwen3-8B"
CLIP_DIR = "clip-vit-large-patch14"
CKPT_NAME = "latest.ckpt"
SAFETENSORS_NAME = "model.safetensors"
DOWNLOAD_HINT = "run `motionbridge weights download`"
IGNORED_PREFIXES = ("body_model.",)  # the mesh is rebuilt from the shipped assets
MANIFEST_NAME = "motionbridge-manifest.json"  # {file name: sha256}, written by download/convert
# safetensors metadata written by `weights convert`: the source checkpoint's sha256, and the
# sha256 of the tensor data (every byte after the header), which the file carries itself
SOURCE_DIGEST_KEY = "source_sha256"
TENSORS_DIGEST_KEY = "tensors_sha256"
MAX_SAFETENSORS_HEADER = 100 << 20  # the format's own limit on the JSON header

log = logging.getLogger(__name__)


class WeightsError(RuntimeError):
    """Weights missing, truncated, corrupt or not matching their config."""


def home() -> Path:
    return Path(os.environ.get("MOTIONBRIDGE_HOME") or Path.home() / ".cache" / "motionbridge").expanduser()


@dataclass(frozen=True)
class WeightPaths:
    checkpoint_dir: Path
    qwen_dir: Path
    clip_dir: Path


def default_paths(model: str = "1.0", root: Path | None = None) -> WeightPaths:
    if model not in MODEL_DIRS:
        raise WeightsError(f"unknown model {model!r}; pass one of {', '.join(MODEL_DIRS)}")
    base = root or home()
    return WeightPaths(base / MODEL_DIRS[model], base / QWEN_DIR, base / CLIP_DIR)


def missing_files(paths: WeightPaths) -> list[str]:
    """Human-readable list of what is absent (empty when everything needed is there)."""
    missing = []
    ck = paths.checkpoint_dir
    if not (ck / "config.yml").is_file():
        missing.append(str(ck / "config.yml"))
    if not ((ck / SAFETENSORS_NAME).is_file() or (ck / CKPT_NAME).is_file()):
        missing.append(str(ck / CKPT_NAME))
    for d in (paths.qwen_dir, paths.clip_dir):
        if not (d / "config.json").is_file():
            missing.append(f"{d}/ (Hugging Face snapshot)")
    return missing


def checkpoint_file(checkpoint_dir: Path) -> Path:
    for name in (SAFETENSORS_NAME, CKPT_NAME):
        if (checkpoint_dir / name).is_file():
            return checkpoint_dir / name
    raise WeightsError(f"no checkpoint in {checkpoint_dir}: expected {CKPT_NAME} or {SAFETENSORS_NAME}; {DOWNLOAD_HINT}")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a latest.ckpt (weights_only) or model.safetensors (memory-mapped)."""
    fix = f"re-download it ({DOWNLOAD_HINT})"
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise WeightsError(f"{path} is truncated or corrupt ({exc}); {fix} or delete it to use {CKPT_NAME}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for damaged zips and refused pickles
        raise WeightsError(f"{path} is truncated, corrupt or not a plain-tensor checkpoint ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:160]}); {fix}") from None
    sd = obj.get("model_state_dict") if isinstance(obj, dict) else None
    if not isinstance(sd, dict):
        raise WeightsError(f"{path} has no 'model_state_dict'; it is not a HY-Motion checkpoint ({DOWNLOAD_HINT})")
    return sd


def check_state_dict(sd: dict[str, torch.Tensor], model: MotionFlowModel, source: Path) -> dict[str, torch.Tensor]:
    """Exact key coverage and shapes against the model built from config.yml."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    sd = {k: v for k, v in sd.items() if not k.startswith(IGNORED_PREFIXES)}
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        raise WeightsError(f"{source} does not match its config.yml: {'; '.join(parts)}; use the config.yml and checkpoint from the same download "
                           f"({DOWNLOAD_HINT})")
    for key, shape in expected.items():
        t = sd[key]
        if not isinstance(t, torch.Tensor):
            raise WeightsError(f"{source}: entry {key} is not a tensor; {DOWNLOAD_HINT}")
        if tuple(t.shape) != shape:
            raise WeightsError(f"{source}: {key} has shape {tuple(t.shape)} but config.yml implies {shape}; the config and checkpoint do not belong "
                               f"together ({DOWNLOAD_HINT})")
        if not t.is_floating_point():
            raise WeightsError(f"{source}: {key} has dtype {t.dtype}, expected floating point; {DOWNLOAD_HINT}")
    return sd


def read_stats(checkpoint_dir: Path, cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """stats/Mean.npy, Std.npy (float64 (input_dim,)), or None when absent."""
    sub = cfg.pipeline.mean_std_dir or "stats"
    folder = checkpoint_dir / Path(sub).name
    mean_p, std_p = folder / "Mean.npy", folder / "Std.npy"
    if not (mean_p.is_file() and std_p.is_file()):
        return None
    out = []
    for p in (mean_p, std_p):
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise WeightsError(f"{p} is unreadable ({exc}); {DOWNLOAD_HINT}") from None
        if arr.shape != (cfg.network.input_dim,):
            raise WeightsError(f"{p} has shape {arr.shape}, expected ({cfg.network.input_dim},); {DOWNLOAD_HINT}")
        out.append(torch.from_numpy(np.asarray(arr)).float())
    return out[0], out[1]


def safetensors_header(path: Path) -> tuple[int, dict[str, str]]:
    """(byte offset of the tensor data, the header's __metadata__) without reading any tensor."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            size = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < size <= min(MAX_SAFETENSORS_HEADER, path.stat().st_size - 8):
                raise ValueError(f"header length {size}")
            header = json.loads(fh.read(size))
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} is truncated or corrupt ({str(exc)[:120]}); re-run `motionbridge weights convert` or delete it") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return 8 + size, {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class Digests:
    sha256: str  # the whole file
    data_sha256: str  # the bytes from data_offset on (a safetensors' tensor data; else the whole file)


def file_digests(path: Path) -> Digests:
    """Both digests in one read. Hashing 4 GB takes seconds, so they are cached in
    $MOTIONBRIDGE_HOME/hashes keyed by path, size and mtime (best effort; never beside the
    weights, which may be read-only or shared). A rewrite that keeps size and mtime (touch -r)
    is not seen until the cache entry is deleted."""
    path = path.resolve()
    offset = safetensors_header(path)[0] if path.suffix == ".safetensors" else 0
    st = path.stat()
    key = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "data_offset": offset}
    cache = home() / "hashes" / (hashlib.sha256(str(path).encode()).hexdigest()[:32] + ".json")
    try:
        cached = json.loads(cache.read_text())
        if all(cached.get(k) == v for k, v in key.items()):
            return Digests(str(cached["sha256"]), str(cached["data_sha256"]))
    except (OSError, ValueError, KeyError):
        pass
    whole, data = hashlib.sha256(), hashlib.sha256()
    with open(path, "rb") as fh:
        whole.update(head := fh.read(offset))
        if not offset:
            data.update(head)
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            whole.update(chunk)
            data.update(chunk)
    digests = Digests(whole.hexdigest(), data.hexdigest())
    try:
        from motionbridge.exporters.atomic import atomic_path

        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:  # two loads at once must not share a temp name
            tmp.write_text(json.dumps({**key, "sha256": digests.sha256, "data_sha256": digests.data_sha256}))
    except OSError:
        pass
    return digests


def file_sha256(path: Path) -> str:
    """Full sha256 of a weights file (cached, see file_digests)."""
    return file_digests(path).sha256


def read_manifest(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{folder / MANIFEST_NAME} is unreadable ({exc}); delete it or {DOWNLOAD_HINT}") from None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record_in_manifest(folder: Path, name: str, sha256: str) -> None:
    """Atomically add one file's digest to the folder's manifest."""
    from motionbridge.exporters.atomic import atomic_path

    entries = read_manifest(folder)
    entries[name] = sha256
    with atomic_path(folder / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))


def check_against_manifest(path: Path, digest: str) -> None:
    """Bit flips inside tensor data load silently; a recorded digest catches them."""
    expected = read_manifest(path.parent).get(path.name)
    if expected and expected != digest:
        raise WeightsError(
            f"{path} is corrupt: its sha256 {digest[:16]}... differs from the one recorded at download "
            f"({expected[:16]}...); {DOWNLOAD_HINT} to fetch it again"
        )


def check_digests(path: Path) -> Digests:
    """Everything a weights file can be checked against without another file's full hash:
    the folder's manifest (download/convert), and for a converted safetensors the digest of
    its tensor data in its own metadata and the source checkpoint recorded at download."""
    digests = file_digests(path)
    check_against_manifest(path, digests.sha256)
    if path.suffix != ".safetensors":
        return digests
    meta = safetensors_header(path)[1]
    recorded = meta.get(TENSORS_DIGEST_KEY)
    if recorded and recorded != digests.data_sha256:
        raise WeightsError(
            f"{path} is corrupt: its tensor data hash {digests.data_sha256[:16]}... differs from the one written at "
            f"conversion ({recorded[:16]}...); delete it and run `motionbridge weights convert` again"
        )
    source, downloaded = meta.get(SOURCE_DIGEST_KEY), read_manifest(path.parent).get(CKPT_NAME)
    if source and downloaded and source != downloaded:
        raise WeightsError(
            f"{path} was converted from another {CKPT_NAME} than the one downloaded here (sha256 {source[:16]}... "
            f"vs {downloaded[:16]}...); delete it and run `motionbridge weights convert` again"
        )
    return digests


def stray_checkpoint_warning(checkpoint_dir: Path, loaded: Path) -> str | None:
    """A latest.ckpt beside the safetensors that is loaded must at least be a whole zip: a
    truncated one means a broken download that would bite the next convert or a fallback."""
    ckpt = checkpoint_dir / CKPT_NAME
    if loaded == ckpt or not ckpt.is_file():
        return None
    try:
        with zipfile.ZipFile(ckpt) as archive:  # reads only the central directory at the end
            archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return f"{ckpt} is truncated or damaged ({str(exc)[:80]}); {loaded.name} was loaded instead. {DOWNLOAD_HINT} to repair it, or delete it"
    return None


@dataclass
class LoadedModel:
    model: MotionFlowModel
    config: ModelConfig
    checkpoint: Path
    sha256: str
    name: str
    warnings: tuple[str, ...] = ()


def load_model(checkpoint_dir: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> LoadedModel:
    """Build on the meta device from config.yml, then assign the checkpoint tensors."""
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        raise WeightsError(f"checkpoint folder {checkpoint_dir} does not exist; {DOWNLOAD_HINT} or pass --checkpoint")
    return load_model_from(checkpoint_dir, checkpoint_file(checkpoint_dir), device, dtype)


def load_model_from(checkpoint_dir: Path, path: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> LoadedModel:
    cfg = load_config(checkpoint_dir / "config.yml")
    model = build_on_meta(cfg.network)
    sd = read_state_dict(path)
    stats = read_stats(checkpoint_dir, cfg)
    if stats is not None:  # the official code reads the stats first; the checkpoint's copies win
        sd.setdefault("mean", stats[0])
        sd.setdefault("std", stats[1])
    sd = check_state_dict(sd, model, path)
    sd = {k: v.to(device=device, dtype=dtype) for k, v in sd.items()}
    sd["mean"], sd["std"] = sd["mean"].float(), sd["std"].float()
    for key in ("mean", "std"):
        if not torch.isfinite(sd[key]).all():
            raise WeightsError(f"{path}: {key} contains NaN/Inf; the file is corrupt ({DOWNLOAD_HINT})")
    digest = check_digests(path).sha256
    stray = stray_checkpoint_warning(checkpoint_dir, path)
    if stray:
        log.warning(stray)
    model.load_state_dict(sd, strict=True, assign=True)
    model.eval().requires_grad_(False)
    return LoadedModel(model, cfg, path, digest, checkpoint_dir.name, (stray,) if stray else ())


def verify(paths: WeightPaths) -> tuple[list[str], bool]:
    """Report lines and overall status: presence, config, every tensor's shape and dtype."""
    lines: list[str] = []
    ok = True
    for item in missing_files(paths):
        lines.append(f"MISSING  {item}")
        ok = False
    ck = paths.checkpoint_dir
    if (ck / "config.yml").is_file():
        try:
            cfg = load_config(ck / "config.yml")
            lines.append(f"ok       {ck / 'config.yml'}: feat_dim {cfg.network.feat_dim}, {cfg.network.num_layers} layers, {cfg.network.num_heads} heads")
        except ValueError as exc:
            lines.append(f"BAD      {exc}")
            return lines, False
        for name in (SAFETENSORS_NAME, CKPT_NAME):
            path = ck / name
            if not path.is_file():
                continue
            try:
                model = build_on_meta(cfg.network)
                sd = read_state_dict(path)
                stats = read_stats(ck, cfg)
                if stats is not None:
                    sd.setdefault("mean", stats[0])
                    sd.setdefault("std", stats[1])
                sd = check_state_dict(sd, model, path)
                check_digests(path)
                dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in sd.values()})
                n = sum(v.numel() for k, v in sd.items() if k.startswith("motion_transformer."))
                lines.append(f"ok       {path}: {len(sd)} tensors, shapes match, dtypes {', '.join(dtypes)}, {n:,} network parameters")
            except WeightsError as exc:
                lines.append(f"BAD      {exc}")
                ok = False
    for d in (paths.qwen_dir, paths.clip_dir):
        if (d / "config.json").is_file():
            has_weights = any(d.glob("*.safetensors")) or any(d.glob("*.bin"))
            lines.append(f"{'ok      ' if has_weights else 'MISSING '} {d}: {'weights present' if has_weights else 'no weight files'}")
            ok = ok and has_weights
    return lines, ok
