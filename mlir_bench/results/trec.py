"""TREC run files (``qid Q0 docid rank score tag``), gzip-compressed, written atomically."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_open


def write_trec_run(
    path: str | Path,
    query_ids: Sequence[str],
    doc_ids: Sequence[str] | EncodedIds,
    top_idx: np.ndarray,
    top_scores: np.ndarray,
    tag: str,
) -> None:
    """Write one line per (query, retrieved document), best first; -1 padding is skipped.

    Scores are written as ``%.6f``. Lines are assembled by a compiled kernel (a task writes millions): float32
    times 1e6 is exact in float64, so ``rint`` of it rounds exactly as Python's ``%.6f`` does (half to even on the
    exact binary value), and the bytes equal those of the plain Python formatting (:func:`format_trec_lines`).
    Pass ``doc_ids`` as :class:`EncodedIds` to encode a pool's ids once for many files.
    """
    docs = doc_ids if isinstance(doc_ids, EncodedIds) else EncodedIds(doc_ids)
    data = format_trec_bytes(EncodedIds(query_ids), docs, np.asarray(top_idx), np.asarray(top_scores), tag)
    with atomic_open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=1, mtime=0) as gz:
        gz.write(data)


class EncodedIds:
    """Ids as one UTF-8 byte buffer plus offsets (what the line-assembly kernel reads)."""

    def __init__(self, ids: Sequence[str]) -> None:
        encoded = [str(i).encode("utf-8") for i in ids]
        self.buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else np.zeros(0, dtype=np.uint8)
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.max_len = max((len(e) for e in encoded), default=0)
        self.ids = ids

    def __len__(self) -> int:
        return len(self.offsets) - 1


def format_trec_lines(query_ids: Sequence[str], doc_ids: Sequence[str], top_idx: np.ndarray,
                      top_scores: np.ndarray, tag: str) -> bytes:
    """The reference formatting in plain Python (slow; the kernel must match it byte for byte)."""
    docs = np.asarray(doc_ids, dtype=object)
    lines: list[str] = []
    for qid, idx, sc in zip(query_ids, top_idx, top_scores, strict=True):
        ok = idx >= 0
        for rank, (d, s) in enumerate(zip(docs[idx[ok]], sc[ok].tolist(), strict=True), start=1):
            lines.append(f"{qid} Q0 {d} {rank} {s:.6f} {tag}\n")
    return "".join(lines).encode("utf-8")


def format_trec_bytes(queries: EncodedIds, docs: EncodedIds, top_idx: np.ndarray, top_scores: np.ndarray,
                      tag: str) -> bytes:
    """TREC run lines as bytes (see :func:`write_trec_run`)."""
    n_q, k = top_idx.shape
    if len(queries) != n_q:
        raise ValueError(f"{len(queries)} query ids for {n_q} rows of top_idx")
    scores = np.asarray(top_scores)
    ok = top_idx >= 0
    if scores.dtype != np.float32 or not np.isfinite(scores[ok]).all() or (
            ok.any() and np.abs(scores[ok]).max() >= 1e9):
        return format_trec_lines(queries.ids, docs.ids, top_idx, scores, tag)  # unusual input: the plain way
    micro = np.rint(scores.astype(np.float64) * 1e6)  # exact product (24 + 14 significant bits)
    micro = np.where(ok, np.abs(micro), 0).astype(np.int64)
    neg = np.signbit(scores) & ok
    tag_b = np.frombuffer(f" {tag}\n".encode(), dtype=np.uint8)
    per_line = queries.max_len + docs.max_len + len(tag_b) + 4 + 1 + 20 + 1 + 1 + 20 + 8
    out = np.empty(max(1, int(ok.sum())) * per_line, dtype=np.uint8)
    kern = _kernel()
    if kern is None:
        return format_trec_lines(queries.ids, docs.ids, top_idx, scores, tag)
    n = kern(queries.buf, queries.offsets, docs.buf, docs.offsets, np.ascontiguousarray(top_idx, dtype=np.int64),
             micro, neg, tag_b, out)
    return out[:n].tobytes()


def _kernel():
    """The numba line-assembly kernel (module-level, so numba's disk cache applies), or None without numba."""
    try:
        from ._trec_kernel import assemble
    except ImportError:  # pragma: no cover - numba missing
        return None
    return assemble


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    """Read a (possibly gzipped) TREC run into {qid: {docid: score}}."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    run: dict[str, dict[str, float]] = {}
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            qid, _, doc, _, score, *_ = line.split()
            run.setdefault(qid, {})[doc] = float(score)
    return run


@dataclass(frozen=True)
class RunFile:
    """One TREC run file to write: its path relative to the run folder, its query ids and their top-k arrays."""

    rel_path: str
    query_ids: list[str]
    top_idx: np.ndarray
    top_scores: np.ndarray


def write_run_files(folder: Path, doc_ids: Sequence[str], runs: Sequence[RunFile], tag: str) -> None:
    """Write ``runs`` under ``folder`` (gzipped TREC, ``tag`` slugged), skipping files whose content is unchanged.

    Files are compressed on two threads (zlib releases the GIL); the pool's ids are encoded once. A file is left
    as it is when ``folder/.digests.json`` records its content digest (ids, top-k arrays, tag) together with the
    sha256 of the file's bytes, and the file on disk still has those bytes: a re-run writes only what changed, and
    a file damaged in place (same size and time) is rewritten.
    """
    import contextlib
    import hashlib
    import json
    from concurrent.futures import ThreadPoolExecutor

    from ..io import sha256_file, write_json
    from .schema import slug

    docs = EncodedIds(doc_ids)
    docs_digest = hashlib.sha256(docs.buf.tobytes() + docs.offsets.tobytes()).hexdigest()
    record_path = folder / ".digests.json"
    try:
        record: dict[str, Any] = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}

    def one(run: RunFile) -> tuple[str, list[Any]]:
        h = hashlib.sha256(f"{docs_digest}\0{slug(tag)}\0{len(run.query_ids)}\0".encode())
        h.update("\n".join(run.query_ids).encode("utf-8"))
        h.update(np.ascontiguousarray(run.top_idx, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(run.top_scores, dtype=np.float32).tobytes())
        digest = h.hexdigest()
        path = folder / run.rel_path
        known = record.get(run.rel_path)
        if isinstance(known, list) and len(known) == 2 and known[0] == digest and path.is_file():
            with contextlib.suppress(OSError):
                if sha256_file(path) == known[1]:
                    return run.rel_path, known
        write_trec_run(path, run.query_ids, docs, run.top_idx, run.top_scores, slug(tag))
        return run.rel_path, [digest, sha256_file(path)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(one, runs))
    if done != {k: record.get(k) for k in done}:
        write_json(record_path, {**record, **done})
