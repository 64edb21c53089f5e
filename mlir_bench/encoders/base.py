"""The encoder interface: texts + role -> float32 matrix, with the metadata that defines a model's vectors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import scipy.sparse as sp

Role = Literal["query", "document"]
ROLES: tuple[Role, ...] = ("query", "document")

# A progress callback: called with the number of texts just finished.
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ModelMeta:
    """What a model is. Everything that changes a vector is here, so it can key the embedding cache.

    ``prompts`` maps a role to the prefix prepended to each text of that role (docs/PROTOCOLS.md §4: E5 uses
    "query: " / "passage: "). ``similarity`` is "cosine" for dense models (vectors are L2-normalised and
    scored by dot product) or "dot" for sparse lexical models such as BM25.
    """

    name: str
    revision: str = "unknown"
    dim: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    pooling: str = "mean"
    max_length: int | None = None
    normalize: bool = True
    dtype: str = "float32"
    similarity: Literal["cosine", "dot"] = "cosine"
    engine: str = "torch"  # what runs the model: torch, onnx, openvino (encoders/engines.py)
    quantization: str = "none"  # or "int8" (dynamic int8, per engine)
    languages: tuple[str, ...] | None = None
    training_datasets: tuple[str, ...] = ()
    n_parameters: int | None = None
    source: str = ""
    reference: str = ""

    def prompt(self, role: Role) -> str:
        return self.prompts.get(role, "")

    def vector_key(self, role: Role) -> str:
        """A hash of every setting that changes the vector of a text in ``role`` (not the text itself).

        It names the embedding cache's folder for this (model, role); see :meth:`vector_fields`.
        """
        fields = self.vector_fields(role)
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def vector_fields(self, role: Role) -> dict[str, object]:
        """The settings :meth:`vector_key` hashes: model and revision, role and prompt, pooling, maximum length,
        normalisation, dtype and similarity (docs/PROTOCOLS.md §4); the engine and quantisation when they are not
        the defaults (torch, none), so the keys of vectors computed before engines existed stay valid."""
        fields: dict[str, object] = {
            "name": self.name,
            "revision": self.revision,
            "role": role,
            "prompt": self.prompt(role),
            "pooling": self.pooling,
            "max_length": self.max_length,
            "normalize": self.normalize,
            "dtype": self.dtype,
            "similarity": self.similarity,
        }
        if self.engine != "torch":
            fields["engine"] = self.engine
        if self.quantization != "none":
            fields["quantization"] = self.quantization
        return fields

    def to_dict(self) -> dict[str, object]:
        """The metadata as a JSON-ready dict; engine and quantization only when not the defaults (as in a
        result's identity), so results of the torch engine read as they did before engines existed."""
        d = asdict(self)
        for key, default in (("engine", "torch"), ("quantization", "none")):
            if d[key] == default:
                del d[key]
        d["languages"] = list(self.languages) if self.languages else None
        d["training_datasets"] = list(self.training_datasets)
        return d


Embeddings: TypeAlias = np.ndarray | sp.csr_matrix


@runtime_checkable
class Encoder(Protocol):
    """A model that maps texts to vectors.

    ``encode`` returns one row per text: a float32 ``np.ndarray`` of shape (len(texts), dim) for dense models
    (L2-normalised when ``meta.normalize``), or a ``scipy.sparse.csr_matrix`` for lexical models. The adapter
    adds the role's prompt itself; callers pass raw texts. It must not know about tasks, splits or languages.
    """

    meta: ModelMeta

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> Embeddings: ...


class FittedEncoder(Encoder, Protocol):
    """An encoder whose document vectors depend on the document collection (BM25's IDF, for instance).

    The runner calls ``fit(documents)`` with every document text of the pool before any ``encode``.
    """

    def fit(self, documents: Sequence[str]) -> None: ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms
