"""`motionbridge weights download | convert | verify`: get, convert and check the official weights."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.model_license import LicenseNotAccepted, require_acceptance
from motionbridge.exporters.atomic import ExportError, atomic_path

from . import loading

HELP = "download, convert (to memory-mappable safetensors) or verify the HY-Motion weights"

# what `download` fetches: (Hugging Face repo, files inside it, folder under $MOTIONBRIDGE_HOME)
HF_MODEL_REPO = "tencent/HY-Motion-1.0"
HF_QWEN_REPO = "Qwen/Qwen3-8B"
HF_CLIP_REPO = "openai/clip-vit-large-patch14"
CLIP_PATTERNS = ["*.json", "*.txt", "*.safetensors"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = sub.add_parser("download", help="fetch the official weights into $MOTIONBRIDGE_HOME (resumable)")
    d.add_argument("--model", choices=sorted(loading.MODEL_DIRS), default="1.0", help="which HY-Motion model (default 1.0)")
    d.add_argument("--home", type=Path, help="target folder (default $MOTIONBRIDGE_HOME or ~/.cache/motionbridge)")
    d.add_argument("--skip-text-encoders", action="store_true", help="only the HY-Motion checkpoint")
    d.add_argument("--accept-license", action="store_true", help="accept the Tencent HY-MOTION 1.0 Community License (printed first)")
    c = sub.add_parser("convert", help="write model.safetensors beside latest.ckpt so later starts memory-map it")
    c.add_argument("checkpoint_dir", type=Path, nargs="?", help="folder with config.yml and latest.ckpt")
    c.add_argument("--model", choices=sorted(loading.MODEL_DIRS), default="1.0")
    v = sub.add_parser("verify", help="check presence, shapes and dtypes of the weights and print a report")
    v.add_argument("checkpoint_dir", type=Path, nargs="?", help="folder with config.yml and the checkpoint")
    v.add_argument("--model", choices=sorted(loading.MODEL_DIRS), default="1.0")
    v.add_argument("--qwen", type=Path, help="Qwen3-8B folder (default under $MOTIONBRIDGE_HOME)")
    v.add_argument("--clip", type=Path, help="clip-vit-large-patch14 folder (default under $MOTIONBRIDGE_HOME)")


def download_plan(model: str, root: Path, text_encoders: bool = True) -> list[dict[str, object]]:
    """snapshot_download keyword sets, one per repo; exposed for tests (no network needed)."""
    folder = loading.MODEL_DIRS[model]
    plan: list[dict[str, object]] = [dict(repo_id=HF_MODEL_REPO, local_dir=str(root), allow_patterns=[f"{folder}/*", f"{folder}/stats/*"])]
    if text_encoders:
        plan.append(dict(repo_id=HF_QWEN_REPO, local_dir=str(root / loading.QWEN_DIR), allow_patterns=None))
        plan.append(dict(repo_id=HF_CLIP_REPO, local_dir=str(root / loading.CLIP_DIR), allow_patterns=CLIP_PATTERNS))
    return plan


def _download(args: argparse.Namespace) -> int:
    try:
        require_acceptance(args.accept_license)
    except LicenseNotAccepted as exc:
        raise CliError(str(exc)) from None
    root = (args.home or loading.home()).expanduser()
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:
        raise CliError(f"downloading needs huggingface_hub ({exc}); pip install 'motionbridge[daemon]'") from None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {root}: {exc.strerror}; set MOTIONBRIDGE_HOME to a writable folder") from None
    for job in download_plan(args.model, root, not args.skip_text_encoders):
        print(f"downloading {job['repo_id']} -> {job['local_dir']} (resumes if interrupted)", file=sys.stderr)
        try:
            snapshot_download(**job)  # type: ignore[arg-type]  # tqdm progress bars; partial files resume
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
            raise CliError(
                f"could not download {job['repo_id']} ({type(exc).__name__}); check the internet connection "
                f"(or HF_ENDPOINT / a proxy) and run the same command again: finished files are kept. "
                f"Offline, copy the folders into {root} by hand"
            ) from None
    _record_lfs_digests(root / loading.MODEL_DIRS[args.model], args.model)
    print(f"done: weights in {root}", file=sys.stderr)
    return 0


def _record_lfs_digests(folder: Path, model: str) -> None:
    """Keep the hub's sha256 of the checkpoint so later loads detect bit rot (best effort)."""
    try:
        from huggingface_hub import HfApi

        name = loading.MODEL_DIRS[model]
        infos = HfApi().get_paths_info(HF_MODEL_REPO, [f"{name}/{loading.CKPT_NAME}"], expand=True)
        for file_name, sha256 in lfs_digests(infos, name).items():
            loading.record_in_manifest(folder, file_name, sha256)
    except Exception as exc:  # the manifest is an extra safety net, never a reason to fail
        print(f"note: could not record checkpoint digests ({type(exc).__name__})", file=sys.stderr)


def lfs_digests(infos, folder_name: str) -> dict[str, str]:
    """{file name inside folder_name: sha256} for the LFS files among the hub's path infos
    (huggingface_hub RepoFile objects: the sha256 of an LFS file is in its `lfs` record;
    plain git files carry only a git blob id, which is not a sha256 of the content)."""
    out: dict[str, str] = {}
    for info in infos:
        lfs, path = getattr(info, "lfs", None), str(getattr(info, "path", ""))
        sha256 = str(getattr(lfs, "sha256", "") or "") if lfs is not None else ""
        if path.startswith(f"{folder_name}/") and len(sha256) == 64:
            out[path[len(folder_name) + 1 :]] = sha256.lower()
    return out


def _checkpoint_dir(args: argparse.Namespace) -> Path:
    return args.checkpoint_dir or loading.default_paths(args.model).checkpoint_dir


def _convert(args: argparse.Namespace) -> int:
    from safetensors.torch import save_file

    folder = _checkpoint_dir(args)
    ckpt = folder / loading.CKPT_NAME
    if not ckpt.is_file():
        raise CliError(f"{ckpt} not found; {loading.DOWNLOAD_HINT} first")
    try:
        loaded = loading.load_model_from(folder, ckpt)
    except loading.WeightsError as exc:
        raise CliError(str(exc)) from None
    tensors = {k: v.contiguous() for k, v in loaded.model.state_dict().items()}
    target = folder / loading.SAFETENSORS_NAME
    try:
        with atomic_path(target) as tmp:
            metadata = {"source": ckpt.name, loading.SOURCE_DIGEST_KEY: loaded.sha256, loading.TENSORS_DIGEST_KEY: _PENDING_DIGEST}
            save_file(tensors, str(tmp), metadata=metadata)
            _write_tensors_digest(tmp)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    loading.record_in_manifest(folder, target.name, loading.file_sha256(target))
    print(f"wrote {target} ({len(tensors)} tensors)")
    return 0


_PENDING_DIGEST = "-" * 64  # as long as a sha256 in hex, so the header keeps its length


def _write_tensors_digest(path: Path) -> None:
    """Put the sha256 of the tensor data into the header in place of its placeholder: the data
    follows the header, so its digest can live inside the file it describes. Loading checks
    it, so zeroed or flipped tensor bytes are caught with no manifest beside the file."""
    offset, _ = loading.safetensors_header(path)
    digest = hashlib.sha256()
    with open(path, "r+b") as fh:
        header = fh.read(offset)
        fh.seek(offset)
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            digest.update(chunk)
        at = header.find(_PENDING_DIGEST.encode())
        if at < 0 or header.count(_PENDING_DIGEST.encode()) != 1:
            raise ExportError(f"{path}: safetensors header has no single digest placeholder")
        fh.seek(at)
        fh.write(digest.hexdigest().encode())


def _verify(args: argparse.Namespace) -> int:
    folder = _checkpoint_dir(args)
    defaults = loading.default_paths(args.model)
    paths = loading.WeightPaths(folder, args.qwen or defaults.qwen_dir, args.clip or defaults.clip_dir)
    lines, ok = loading.verify(paths)
    for line in lines:
        print(line)
    if not ok:
        raise CliError(f"weights incomplete or damaged (see above); {loading.DOWNLOAD_HINT}")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"download": _download, "convert": _convert, "verify": _verify}[args.action](args)
