"""The few transformers calls whose spelling differs between the 4.53 line and 5.x.

Both lines are supported (pyproject's range; CI runs the text and parity tests on each):
- the load-time dtype argument is `torch_dtype` before 4.56 and `dtype` after (5.x warns on the old name);
- the KV cache goes in as `past_key_values` in 4.x and as `cache` in 5.x (the old name is
  deprecated there and is removed in a later 5.x), and comes back under the same name;
- 5.x prints a load report table (e.g. the CausalLM checkpoint's unused lm_head, expected here)
  and progress bars on every load; `quiet_loading` keeps them out of the CLI's output;
- a `DynamicCache` is built from per-layer (key, value) pairs by its first positional argument in
  both, and iterating it yields tuples that start with (key, value) in both, but
  `from_legacy_cache` / `to_legacy_cache` exist only in 4.x.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterable, Iterator

from torch import Tensor, nn


def _major_minor() -> tuple[int, int]:
    import transformers

    major, minor = transformers.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def dtype_kwarg() -> str:
    """Name of `from_pretrained`'s dtype argument in the installed transformers."""
    return "dtype" if _major_minor() >= (4, 56) else "torch_dtype"


def cache_kwarg(model: nn.Module) -> str:
    """Name under which `model.forward` takes (and its output returns) the KV cache."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def make_cache(layers: Iterable[tuple[Tensor, Tensor]]):
    """A DynamicCache holding the given per-layer (key, value) tensors."""
    from transformers import DynamicCache

    return DynamicCache([(k, v) for k, v in layers])


def cache_layers(cache) -> list[tuple[Tensor, Tensor]]:
    """Per-layer (key, value) tensors of a DynamicCache."""
    return [(item[0], item[1]) for item in cache]


def returned_cache(output, model: nn.Module):
    """The KV cache a forward with use_cache=True returned."""
    return getattr(output, cache_kwarg(model))


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' warnings and progress bars off while loading; restored afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
