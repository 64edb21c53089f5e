"""Deterministic fake models for the reliability tests, and a CLI driver that registers them.

``fake-ok`` maps each text to a fixed unit vector (from the sha256 of role and text), so every run gives the
same scores, with an optional per-batch delay (``MLIR_BENCH_FAKE_DELAY`` seconds) that makes a run slow enough
to be killed while encoding. ``fake-nan``, ``fake-dim``, ``fake-count`` and ``fake-list`` return malformed
output (NaN values, the wrong dimension, the wrong number of rows, a Python list).

Run the real command line with these models registered::

    python tests/fake_encoder.py run -m fake-ok -t path/to/task.toml ...
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mlir_bench.encoders.base import ModelMeta, Progress, Role

DIM = 16
KINDS = ("ok", "nan", "dim", "count", "list")


def exact_hash_vectors(texts: Sequence[str], dim: int, words: int = 8) -> np.ndarray:
    """Hashed bag of words whose dot products are exact in float32 on any CPU, in any summation order.

    Each of the first ``words`` words adds +1 or -1 to one of ``dim`` buckets (crc32); the count vector is
    L2-normalised and rounded to a multiple of 2^-8 (norm 1 to within ~0.5%). Products are then multiples of
    2^-16 and every partial sum of a dot product fits float32's 24-bit mantissa, so the score of a (query, doc)
    pair is bit-identical whether the whole pool or a shard is multiplied, by numpy's BLAS, mteb or faiss, on
    any CPU. Scores stay fine-grained (true ties are rare but real: equal word patterns), so a test comparing
    rankings tests the tie-breaking, not the machine's rounding. A text with no words is the zero vector.
    """
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for i, t in enumerate(texts):
        for w in t.lower().split()[:words]:
            h = zlib.crc32(w.encode())
            out[i, h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.where(norms == 0, 1.0, norms)
    return (np.round(out * 256) / 256).astype(np.float32)


class FakeEncoder:
    """A text -> vector function with no model behind it; ``kind`` selects a malformed output for tests."""

    def __init__(self, kind: str = "ok", delay: float | None = None) -> None:
        self.kind = kind
        self.delay = float(os.environ.get("MLIR_BENCH_FAKE_DELAY", "0")) if delay is None else delay
        self.meta = ModelMeta(name=f"fake-{kind}", revision="1", dim=DIM, pooling="none", source="tests")

    def encode(self, texts: Sequence[str], role: Role, *, batch_size: int = 32,
               progress: Progress | None = None) -> object:
        rows = []
        for a in range(0, len(texts), batch_size):
            batch = texts[a:a + batch_size]
            for t in batch:
                seed = hashlib.sha256(f"{role}\0{t}".encode("utf-8", "surrogatepass")).digest()
                v = np.frombuffer(seed[: DIM * 2], dtype=np.uint8).astype(np.float32)[:DIM] - 127.5
                rows.append(v / np.linalg.norm(v))
            if self.delay:
                time.sleep(self.delay)
            if progress:
                progress(len(batch))
        x = np.stack(rows) if rows else np.zeros((0, DIM), dtype=np.float32)
        if self.kind == "nan":
            x[len(x) // 2, 3] = np.nan
        elif self.kind == "dim":
            x = x[:, : DIM - 1]
        elif self.kind == "count":
            x = x[:-1]
        elif self.kind == "list":
            return x.tolist()
        return x


TINY_SPEC = """name = "tiny"
family = "lareqa"
description = "two articles of XQuAD-R de/en"
license = "CC BY-SA 4.0"
citation = "test"
main_score = "map"
languages = ["de", "en"]

[source]
[[source.files]]
lang = "de"
path = "xq/de.json"
[[source.files]]
lang = "en"
path = "xq/en.json"
"""


def make_tiny_task(root: Path, data: Path, n_articles: int = 2) -> Path:
    """Copy the first ``n_articles`` of XQuAD-R de/en from ``data`` into ``root/xq`` and write ``root/tiny.toml``
    (no published counts, so the spec fits the cut files). Returns the spec path; ``root`` is the data root."""
    (root / "xq").mkdir(parents=True, exist_ok=True)
    for lang in ("de", "en"):
        doc = json.loads((data / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:n_articles]
        (root / "xq" / f"{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    spec = root / "tiny.toml"
    spec.write_text(TINY_SPEC, encoding="utf-8")
    return spec


def register_fakes() -> None:
    """Register ``fake-<kind>`` for every kind (idempotent)."""
    from mlir_bench.encoders.registry import register, registered_names

    for kind in KINDS:
        name = f"fake-{kind}"
        if name not in registered_names():
            register(name, lambda opts, k=kind: FakeEncoder(k), FakeEncoder(kind, 0.0).meta, summary="test fake")


if __name__ == "__main__":
    register_fakes()
    from mlir_bench.cli import main

    sys.argv[0] = "mlir-bench"
    main()
