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


def cpu_has_native_bf16(flags: str | None = None) -> bool | None:
    """Whether the CPU computes bf16 natively (avx512_bf16 or amx_bf16 among its flags); None when unknown.

    ``flags`` is the /proc/cpuinfo flags line (tests); by default it is read from the machine.
    """
    if flags is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                flags = next((line for line in fh if line.startswith("flags")), "")
        except OSError:
            return None
        if not flags:
            return None
    return bool(set(flags.split(":", 1)[-1].split()) & {"avx512_bf16", "amx_bf16"})


def cpu_bf16_warning(flags: str | None = None) -> str | None:
    """One line when bf16 on this CPU would be emulated (no AVX512-BF16 and no AMX), else None.

    On such a CPU torch converts every bf16 product through fp32: on a 2-core AVX2 AMD EPYC mE5-small encoded 9.2
    XQuAD-R texts/s in bf16 against 59.0 in fp32 (benchmarks/engines.py), and a bf16-autocast training step took
    ~30 s against 3.8-4.3 s in fp32. A machine whose flags cannot be read gets no warning.
    """
    if cpu_has_native_bf16(flags) is not False:
        return None
    return ("this CPU has no native bf16 (neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo): bf16 is emulated "
            "and several times slower than float32 here; use float32 on this machine")
