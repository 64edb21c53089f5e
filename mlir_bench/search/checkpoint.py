"""Checkpoints of exact search: a finished search call is stored on disk under a digest of its exact inputs.

Why: on this kind of machine a search pass over a task (one matrix product per query group plus the top-k and
rank pass) costs seconds, so a re-run of a finished (task, model) and the resumption of an interrupted one must
not search again. :func:`exact_search` is a pure function of its inputs, so memoising it is exact: the digest
covers the query and document matrices (their bytes, dtype and shape), the views, the relevant documents, the
tie-break order, ``k`` and :data:`SEARCH_VERSION` (bumped whenever search semantics change).

Layout: ``root/<digest[:2]>/<digest>.npz``, one file per search call (a group of cells sharing their queries),
written atomically (:func:`mlir_bench.io.atomic_open`), so an interrupted run resumes per group of cells. A
damaged file fails zip's CRC check on load and is treated as a miss (and removed). Files are deleted oldest first
once the folder exceeds ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..io import atomic_open
from .base import SearchResult

SEARCH_VERSION = "exact-2"  # bump when the results of exact_search change for the same inputs
DEFAULT_MAX_BYTES = 4 * 2**30
_FIELDS = ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores")


def matrix_digest(x: object) -> str:
    """sha256 over a dense or sparse matrix's type, shape, dtype and bytes."""
    h = hashlib.sha256()
    if sp.issparse(x):
        m = sp.csr_matrix(x)
        m.sort_indices()
        h.update(f"csr{m.shape}{m.dtype}".encode())
        for part in (m.data, m.indices, m.indptr):
            h.update(np.ascontiguousarray(part).tobytes())
    else:
        a = np.ascontiguousarray(x)
        h.update(f"dense{a.shape}{a.dtype}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def search_digest(
    query_digest: str,
    doc_digest: str,
    *,
    k: int,
    relevant: np.ndarray,
    views: Mapping[str, np.ndarray],
    order_digest: str,
) -> str:
    """The digest of one exact_search call (the arrays' digests are computed by the caller, once each)."""
    h = hashlib.sha256()
    h.update(f"{SEARCH_VERSION}\0{query_digest}\0{doc_digest}\0{order_digest}\0k={k}\0".encode())
    rel = np.ascontiguousarray(relevant, dtype=np.int64)
    h.update(f"rel{rel.shape}".encode())
    h.update(rel.tobytes())
    for name in sorted(views):
        v = np.ascontiguousarray(views[name], dtype=np.int64)
        h.update(f"\0view:{name}:{v.shape}".encode())
        h.update(v.tobytes())
    return h.hexdigest()


class SearchCheckpoint:
    """Stored results of exact_search calls, keyed by :func:`search_digest`."""

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root).expanduser()
        self.max_bytes = max_bytes

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.npz"

    def load(self, digest: str) -> dict[str, SearchResult] | None:
        """The stored results, or None if absent or damaged (a damaged file is removed)."""
        path = self._path(digest)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                names = [str(n) for n in z["names"]]
                n_docs = z["n_docs"]
                out = {}
                for i, name in enumerate(names):
                    f = {field: z[f"{i}.{field}"] for field in _FIELDS}
                    out[name] = SearchResult(
                        f["top_idx"].astype(np.int64), f["top_scores"], f["rel_idx"].astype(np.int64),
                        f["rel_ranks"].astype(np.int64), f["rel_scores"], int(n_docs[i]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return out

    def save(self, digest: str, results: Mapping[str, SearchResult]) -> None:
        """Store ``results`` atomically (positions as int32 when they fit)."""
        arrays: dict[str, np.ndarray] = {
            "names": np.asarray(list(results), dtype=str),
            "n_docs": np.asarray([r.n_docs for r in results.values()], dtype=np.int64),
        }
        for i, r in enumerate(results.values()):
            small = r.n_docs < 2**31 - 1
            for field in _FIELDS:
                a = getattr(r, field)
                if small and field in ("top_idx", "rel_idx", "rel_ranks"):
                    a = a.astype(np.int32)
                arrays[f"{i}.{field}"] = a
        with atomic_open(self._path(digest), "wb") as fh:
            np.savez(fh, **arrays)
        self._evict()

    def _evict(self) -> None:
        files = []
        total = 0
        for p in self.root.glob("*/*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, p))
            total += st.st_size
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                total -= size
