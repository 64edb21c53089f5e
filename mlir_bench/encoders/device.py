"""Where a model runs: ``--device auto|cpu|cuda[:N]|mps``, its batch size, and its bf16 autocast.

:func:`canonical_device` only checks the spelling (no torch import: a cached re-run never loads torch).
:func:`resolve_device` asks torch what it sees: ``auto`` is the first GPU torch sees (CUDA, then Apple's MPS),
else the CPU; an explicit device torch cannot use is one :class:`~mlir_bench.errors.ModelError` line.
:func:`default_batch_size` sizes batches for the device (the CPU's 32 keeps padding low on 2 cores, a GPU wants
bigger batches). :func:`autocast` gives bf16 only when asked (``--dtype bfloat16``), and on a GPU only when it
supports bf16.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from ..errors import ModelError

DEVICES_HELP = "auto, cpu, cuda, cuda:N or mps"
CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 128

_SPELLING = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def canonical_device(device: str | None) -> str:
    """``device`` lower-cased and checked ("auto" for None or ""); a bad spelling is a ModelError."""
    d = (device or "auto").strip().lower()
    if d == "gpu":
        d = "cuda"
    if not _SPELLING.match(d):
        raise ModelError(f"unknown device {device!r}: expected {DEVICES_HELP}")
    return d


def is_cpu(device: str | None) -> bool:
    """Whether ``device`` is the CPU, without importing torch ("auto" counts only after resolving)."""
    return canonical_device(device) == "cpu"


def resolve_device(device: str | None, model: str = "") -> str:
    """The torch device ``device`` means here: "cpu", "cuda", "cuda:N" or "mps".

    ``auto`` picks CUDA, then MPS, then the CPU. An explicit GPU that torch does not see is a ModelError saying
    what torch sees (a CPU build of torch, no device N...).
    """
    d = canonical_device(device)
    if d == "cpu":
        return d
    try:
        import torch
    except ImportError:
        if d == "auto":
            return "cpu"
        raise ModelError(f"{_who(model)}device {d} needs torch") from None
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if d == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if d.startswith("cuda"):
        if not cuda:
            build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            raise ModelError(f"{_who(model)}device {d} is not available: torch {torch.__version__} ({build}) sees "
                             f"no CUDA GPU; use --device cpu (or auto)")
        n = torch.cuda.device_count()
        index = int(d.partition(":")[2] or 0)
        if index >= n:
            raise ModelError(f"{_who(model)}device {d} is not available: torch sees {n} CUDA GPU(s) "
                             f"(cuda:0{f'..cuda:{n - 1}' if n > 1 else ''})")
        return d
    if not mps:
        raise ModelError(f"{_who(model)}device mps is not available: torch {torch.__version__} sees no Apple GPU; "
                         "use --device cpu (or auto)")
    return d


def check_available(device: str | None) -> None:
    """Fail at once (one line) for an explicit GPU torch cannot use; "auto" and "cpu" import nothing."""
    d = canonical_device(device)
    if d not in ("auto", "cpu"):
        resolve_device(d)


def default_batch_size(device: str) -> int:
    """Texts per batch for a resolved device: 32 on the CPU, 128 on a GPU."""
    return CPU_BATCH_SIZE if device == "cpu" else GPU_BATCH_SIZE


def autocast(device: str, dtype: str, model: str = "") -> Any:
    """The context ``dtype`` runs under on the resolved ``device``: bf16 autocast, or nothing for float32.

    bf16 on a CUDA GPU without bf16 support (before Ampere) is a ModelError rather than a silent fp32 run.
    """
    if dtype != "bfloat16":
        return contextlib.nullcontext()
    import torch

    kind = device.partition(":")[0]
    if kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ModelError(f"{_who(model)}--dtype bfloat16: GPU {torch.cuda.get_device_name(device)} does not "
                         "support bf16; use --dtype float32")
    return torch.autocast(kind, dtype=torch.bfloat16)


def _who(model: str) -> str:
    return f"model {model}: " if model else ""
