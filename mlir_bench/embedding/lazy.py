"""Load a model only when a text actually has to be encoded.

A re-run whose vectors are all in the embedding cache needs the model's metadata (it keys the cache), not its
weights. Registered models describe themselves cheaply (``ModelSpec.meta``: config files and a weight hash, no
torch import), so :func:`load_encoder_lazily` returns a stand-in that carries that metadata and loads the real
encoder on the first :meth:`LazyEncoder.encode`. When it loads, the real metadata must give the same vector keys
(else the cache lookup used the wrong key): a mismatch is a :class:`~mlir_bench.errors.ModelError`, raised before
anything is written to the cache.

Models that must be fitted (BM25), unregistered names (hub ids, folders) and load options that change the
metadata (``prompts``, ``max_length``) are loaded eagerly, exactly as :func:`load_encoder` does; so are options a
registered model cannot honour (an engine or a GPU it does not support), so that they fail at once. The dtype, the
engine and the quantisation are set on the cheap metadata (they change the vector key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..encoders.base import ROLES, Embeddings, Encoder, ModelMeta, Progress, Role
from ..errors import ModelError


class LazyEncoder:
    """An :class:`Encoder` whose weights load on first use; ``meta`` is the registered (cheap) metadata."""

    def __init__(self, meta: ModelMeta, load: Callable[[], Encoder]) -> None:
        self.meta = meta
        self._load = load
        self._encoder: Encoder | None = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def encoder(self) -> Encoder:
        """The real encoder (loaded now if needed), after checking that its vector keys match ``meta``'s."""
        if self._encoder is None:
            enc = self._load()
            for role in ROLES:
                if enc.meta.vector_key(role) != self.meta.vector_key(role):
                    raise ModelError(
                        f"model {self.meta.name}: its registered metadata {self.meta.vector_fields(role)} "
                        f"differs from the loaded model's {enc.meta.vector_fields(role)}; fix the registry entry")
            self._encoder = enc
            self.meta = enc.meta
        return self._encoder

    def encode(self, texts: Sequence[str], role: Role, *, batch_size: int | None = None,
               progress: Progress | None = None) -> Embeddings:
        size = {} if batch_size is None else {"batch_size": batch_size}  # None: the real encoder's default
        return self.encoder().encode(texts, role, progress=progress, **size)


def load_encoder_lazily(name: str, **options: Any) -> Encoder:
    """Like :func:`mlir_bench.encoders.load_encoder`, but a registered, unfitted model loads on first encode."""
    from ..encoders.device import canonical_device
    from ..encoders.engines import canonical_engine, canonical_quantization, check_combination
    from ..encoders.registry import canonical_dtype, get_spec, is_registered, load_encoder

    def load() -> Encoder:
        return load_encoder(name, **options)

    key = name.strip()
    if not is_registered(key) or options.get("prompts") or options.get("max_length") is not None:
        return load()
    spec = get_spec(key)
    try:
        engine = canonical_engine(options.get("engine"), key)
        quantization = canonical_quantization(options.get("quantization"), key)
        device = canonical_device(options.get("device"))
        check_combination(key, engine, quantization, canonical_dtype(options.get("dtype", "float32"), key))
    except ModelError:
        return load()  # the real loader reports it
    if engine not in spec.engines or (len(spec.engines) == 1 and (quantization != "none" or
                                                                   device not in ("auto", "cpu"))):
        return load()  # unsupported here: the loader says so now, not after the task is loaded
    try:
        meta = spec.meta()
    except Exception:  # noqa: BLE001 - no cheap metadata (package missing...): let the real loader explain
        return load()
    if meta.similarity != "cosine":  # fitted / lexical models (BM25) are not cached: nothing to gain
        return load()
    try:
        dtype = canonical_dtype(options.get("dtype", "float32"), key)
    except ModelError:
        return load()  # the real loader reports it
    if dtype != meta.dtype:
        if dtype != "bfloat16":
            return load()
        meta = replace(meta, dtype=dtype)
    if (engine, quantization) != (meta.engine, meta.quantization):
        meta = replace(meta, engine=engine, quantization=quantization)
    return LazyEncoder(meta, load)
