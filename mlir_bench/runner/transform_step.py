"""The transform step of a run: estimation texts -> their vectors (cached) -> fit -> the task's vectors transformed.

Composes :mod:`mlir_bench.transforms` (arrays only) with the estimation data (NTREX-128 and Tatoeba through
:mod:`mlir_bench.training.corpora`, or a user's JSONL file) and the embedding cache. The estimation texts are
encoded with the same model, role and prompt as the task's texts, so they are cached under the same keys; the
task's own vectors are the cached raw vectors of the base model: evaluating a transform never re-encodes the pool.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.fetch import data_root
from ..embedding import embed_corpus
from ..encoders.base import Encoder
from ..errors import DataError, UserError
from ..tasks import TaskData
from ..training.corpora import DataFiles, load_ntrex, load_tatoeba
from ..transforms import Estimation, TransformSpec, fit
from ..transforms.methods import roles_needed


@dataclass
class EstimationTexts:
    """Estimation records (language, text, group) and the sha256 of every file they came from."""

    langs: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)

    def add(self, lang: str, text: str, group: str) -> None:
        self.langs.append(lang)
        self.texts.append(text)
        self.groups.append(group)


def task_languages(task: TaskData) -> dict[str, set[str]]:
    return {"query": set(task.queries.langs), "document": set(task.docs.langs)}


def load_estimation(spec: TransformSpec, languages: set[str], data_dir: str | Path | None) -> EstimationTexts:
    """The estimation texts of ``spec`` in ``languages`` (plus English); empty for the transductive ``pool``."""
    out = EstimationTexts()
    if spec.source == "pool":
        return out
    if spec.source in ("ntrex", "tatoeba"):
        files = DataFiles(data_root(data_dir))
        items = load_ntrex(files, languages | {"en"}) if spec.source == "ntrex" else \
            load_tatoeba(files, languages | {"en"})
        for item in items:
            for lang, text in item.texts.items():
                if lang in languages | {"en"} and text.strip():
                    out.add(lang, text, item.item_id)
        out.sha256 = dict(files.sha256)
        return out
    assert spec.path is not None
    return _read_jsonl(spec.path, languages, out)


def _read_jsonl(path: Path, languages: set[str], out: EstimationTexts) -> EstimationTexts:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the estimation file ({exc.strerror or exc})") from None
    out.sha256 = {path.name: hashlib.sha256(raw).hexdigest()}
    for n, line in enumerate(raw.decode("utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"not JSON ({exc.msg})", where=f"line {n}") from None
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) and rec.get(k) for k in ("lang", "text")):
            raise DataError(path, 'expected {"lang": str, "text": str, "group": str}', where=f"line {n}")
        group = rec.get("group", f"line-{n}")
        if not isinstance(group, str | int):
            raise DataError(path, f"group is {type(group).__name__}, expected a string", where=f"line {n}")
        if rec["lang"] in languages | {"en"}:
            out.add(rec["lang"], rec["text"], str(group))
    if not out.texts:
        raise DataError(path, f"no record in the task's languages ({', '.join(sorted(languages))}) or English")
    return out


def apply_transform(spec: TransformSpec, texts: EstimationTexts, encoder: Encoder, task: TaskData, qv: Any, dv: Any,
                    *, cache: Any, batch_size: int, progress: Any = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Fit ``spec`` and return the task's transformed query and document vectors, with what was done."""
    if not isinstance(qv, np.ndarray) or not isinstance(dv, np.ndarray):
        raise UserError(f"transform {spec.name}: transforms apply to dense in-memory vectors; "
                        f"{encoder.meta.name} gives sparse or sharded ones")
    qlangs, dlangs = np.asarray(task.queries.langs), np.asarray(task.docs.langs)
    t0 = time.perf_counter()
    encoded: dict[str, int] = {}
    if spec.source == "pool":
        est = Estimation({"query": qv, "document": dv}, {"query": qlangs, "document": dlangs},
                         {"query": None, "document": None})
    else:
        vectors, langs, groups = {}, {}, {}
        for role in roles_needed(spec.method, spec.param):
            v, st = embed_corpus(encoder, texts.texts, role, batch_size=batch_size, cache=cache,
                                 progress=(lambda n, r=role: progress(f"encode estimation texts ({r})", n))
                                 if progress else None)
            vectors[role], langs[role], groups[role] = np.asarray(v), np.asarray(texts.langs), np.asarray(texts.groups)
            encoded[role] = st.n_encoded
        est = Estimation(vectors, langs, groups)
    t1 = time.perf_counter()
    fitted = fit(spec.method, spec.param, est, task_languages(task), source=spec.source,
                 skip_missing=spec.skip_missing, name=spec.name)
    t2 = time.perf_counter()
    qt, dt = fitted.apply(qv, qlangs, "query"), fitted.apply(dv, dlangs, "document")
    t3 = time.perf_counter()
    info = {**fitted.describe(), "files_sha256": texts.sha256,
            "texts": len(texts.texts) if spec.source != "pool" else 0, "encoded": encoded,
            "encode_seconds": round(t1 - t0, 3), "fit_seconds": round(t2 - t1, 3),
            "apply_seconds": round(t3 - t2, 3)}
    return qt, dt, info
