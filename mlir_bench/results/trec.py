"""TREC run files (``qid Q0 docid rank score tag``), gzip-compressed, written atomically."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..io import atomic_open


def write_trec_run(
    path: str | Path,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    top_idx: np.ndarray,
    top_scores: np.ndarray,
    tag: str,
) -> None:
    """Write one line per (query, retrieved document), best first; -1 padding is skipped."""
    docs = np.asarray(doc_ids, dtype=object)
    lines: list[str] = []
    for qid, idx, sc in zip(query_ids, top_idx, top_scores, strict=True):
        ok = idx >= 0
        for rank, (d, s) in enumerate(zip(docs[idx[ok]], sc[ok].tolist(), strict=True), start=1):
            lines.append(f"{qid} Q0 {d} {rank} {s:.6f} {tag}\n")
    with atomic_open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=1, mtime=0) as gz:
        gz.write("".join(lines).encode("utf-8"))


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
