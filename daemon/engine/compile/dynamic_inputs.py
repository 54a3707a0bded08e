"""What a dynamic-shape compile (FastConfig.compile_dynamic) is handed: tensors that are not views.

Dynamo fakes a view input through its base, so the compiled code's guards name the base's sizes
and strides (`feat._base.stride()[0] == feat._base.size()[1]`). The glue between compiled pieces
passes views whose bases change form from call to call: chunks of a modulation table, halves of
the joint attention, rows of a captured loop's tables, or a plain tensor with no base at all. On
an H100 each such change recompiled (`_qkv` 6 times, `_finish` 7 times in one probe; session 10
results), and a recompile inside a CUDA-graph capture invalidates the capture.

A view's storage, offset, sizes and strides, set on a fresh tensor, make the same memory without a
base: no copy, no `_base` guards. What is left to specialise on (a storage offset of 0 against one
of 2 or more, a size of 1) is the handful of variants serve's warm-up compiles
(FastConfig.code_variants, compile/graphs.py ROW_FORMS).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from motionbridge.daemon.model.config import NetworkConfig


def without_base(t: Any) -> Any:
    """`t` if it is not a tensor view, else a tensor on the same memory with no `_base`."""
    if not isinstance(t, torch.Tensor) or not t._is_view():
        return t
    return torch.empty(0, dtype=t.dtype, device=t.device).set_(t.untyped_storage(), t.storage_offset(), t.size(), t.stride())


def _arg(a: Any) -> Any:
    if isinstance(a, tuple | list):  # a block's modulation chunks come as one tuple
        return type(a)(without_base(x) for x in a)
    return without_base(a)


def called_without_views(fn: Callable) -> Callable:
    """`fn`, called with every tensor argument (and those in tuple or list arguments) replaced by
    `without_base`."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*(_arg(a) for a in args), **{k: _arg(v) for k, v in kwargs.items()})

    return call


def compiling_without_views(compile_fn: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """A compile function (f -> compiled f) whose compiled functions are handed no views."""
    return lambda f: called_without_views(compile_fn(f))


def fixed_sizes(network: NetworkConfig, input_pad: int = 0) -> frozenset[int]:
    """The sizes of a network that no request changes: widths, heads,
    head width, the text features' widths, the latent's width as given and as padded. A dynamic
    size traced equal to one of them is tied to it (Dynamo matches strides to sizes by value), so
    the warm-up's shapes skip them (FastConfig.code_variants)."""
    d, h = network.feat_dim, network.num_heads
    return frozenset({d, h, d // h, 3 * d, 6 * d, network.mlp_hidden_dim, network.ctxt_input_dim, network.vtxt_input_dim,
                      network.input_dim, network.input_dim + input_pad})
