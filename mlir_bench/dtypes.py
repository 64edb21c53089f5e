"""The numeric formats a run can ask for, by one canonical name (shared by the CLI, the loader and reproduction)."""

from __future__ import annotations

from .errors import ModelError

_SPELLINGS = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp32": "float32", "float32": "float32"}


def canonical_dtype(dtype: str, model: str = "") -> str:
    """"float32" or "bfloat16" for the accepted spellings (fp32, bf16...); anything else is a ModelError."""
    if dtype not in _SPELLINGS:
        who = f"model {model}: " if model else ""
        raise ModelError(f"{who}unsupported dtype {dtype!r} (use float32 or bfloat16)")
    return _SPELLINGS[dtype]
