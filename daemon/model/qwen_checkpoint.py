"""Whether a Qwen3 folder's safetensors weights match its config.json, from their headers only
(no pickle, no tensor data): every tensor the config's model has, with its shape, and none it
lacks. transformers fills a missing tensor with random values and only warns, and its own
mismatch error may point at a report our quiet loading hides; this names the file and the
first mismatch in one line."""

from __future__ import annotations

from pathlib import Path

from torch import nn


class CheckpointError(ValueError):
    """The Qwen3 weights on disk do not match its config (missing, foreign or reshaped tensors)."""


def check_checkpoint(qwen_dir: str | Path, llm: nn.Module) -> None:
    """`llm`: a Qwen3Model of the folder's config (loaded, or a skeleton on the meta device).
    Raises CheckpointError naming the file and the first mismatch."""
    from safetensors import safe_open

    folder = Path(qwen_dir)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{folder}: no *.safetensors weights (other formats are refused: they could execute code when read)")
    found: dict[str, tuple[tuple[int, ...], Path]] = {}
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    found[key.removeprefix("model.")] = (tuple(f.get_slice(key).get_shape()), path)
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line naming it
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"{path}: unreadable safetensors file ({why})") from None
    expected = {k: tuple(v.shape) for k, v in llm.state_dict().items()}
    for key, shape in expected.items():
        if key not in found:
            raise CheckpointError(f"{folder}: tensor {key!r} is missing from the weights; the folder does not match its config.json")
        if found[key][0] != shape:
            raise CheckpointError(f"{found[key][1]}: tensor {key!r} has shape {list(found[key][0])}, config.json needs {list(shape)}")
    extra = sorted(k for k in found if k not in expected and k != "lm_head.weight")
    if extra:
        raise CheckpointError(f"{found[extra[0]][1]}: tensor {extra[0]!r} is not part of this Qwen3 config ({len(extra)} such)")


def mismatch(qwen_dir: str | Path) -> str | None:
    """After a failed load: the first way the folder's weights differ from its config.json, or
    None when they match (or the config itself cannot be read: the caller's error stands)."""
    import torch
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(qwen_dir, local_files_only=True)
        with torch.device("meta"):
            skeleton = AutoModel.from_config(config)
    except Exception:  # noqa: BLE001 - no better explanation than the original error
        return None
    try:
        check_checkpoint(qwen_dir, skeleton)
    except CheckpointError as exc:
        return str(exc)
    return None
