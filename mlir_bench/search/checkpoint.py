"""Checkpoints of exact search: a finished search call is stored on disk under a digest of its exact inputs.

Why: on this kind of machine a search pass over a task (one matrix product per query group plus the top-k and
rank pass) costs seconds, so a re-run of a finished (task, model) and the resumption of an interrupted one must
not search again. :func:`exact_search` is a pure function of its inputs, so memoising it is exact: the digest
covers the query and document matrices (their bytes, dtype and shape), the views, the relevant documents, the
tie-break order, ``k`` and :data:`SEARCH_VERSION` (bumped whenever search semantics change).

Layout: ``root/<digest[:2]>/<digest>.npz``, one file per search call (a group of cells sharing their queries),
written atomically (:func:`mlir_bench.io.atomic_open`), so an interrupted run resumes per group of cells. Each
file carries, as its member ``sha256``, the sha256 of every other member's name, dtype, shape and bytes
(:func:`arrays_digest`), checked on every load. A damaged file (zip CRC error, unreadable member, missing or
mismatching ``sha256``) is treated as a miss: it is removed with a :class:`SearchCacheWarning` and the search runs
again. Files are deleted oldest first once the folder exceeds ``max_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..io import atomic_open
from .base import SearchResult

SEARCH_VERSION = "exact-2"  # bump when the results of exact_search change for the same inputs
DEFAULT_MAX_BYTES = 4 * 2**30
_FIELDS = ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores")
CHECKSUM = "sha256"  # the member holding arrays_digest() of the others


class SearchCacheWarning(UserWarning):
    """A file under the cache's ``searches/`` folder was damaged; it was removed and its content is recomputed."""


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes, in name order (what a checkpoint stores)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class OlderFormat(ValueError):
    """A file of ``searches/`` written before files carried a sha256: a miss (it is rewritten), not damage."""


def read_checked_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every member of a checkpoint file, after checking its ``sha256`` member; ValueError saying what is wrong
    (:class:`OlderFormat` for a well-formed file of the format without checksum).

    FileNotFoundError passes through (a miss, not damage).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip/npy damage of any kind (BadZipFile, CRC, EOF, header, ...)
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    stored = arrays.pop(CHECKSUM, None)
    if stored is None:
        if _older_format(arrays):
            raise OlderFormat("older format without a sha256")
        raise ValueError(f"no sha256 member (members: {', '.join(sorted(arrays)[:8])})")
    if stored.shape != () or str(stored) != arrays_digest(arrays):
        raise ValueError("sha256 mismatch")
    return arrays


def _older_format(arrays: Mapping[str, np.ndarray]) -> bool:
    """Whether the members are exactly those of the format before checksums (names, n_docs, <i>.<field>)."""
    try:
        n = len(arrays["names"])
    except (KeyError, TypeError):
        return False
    expected = {"names", "n_docs"} | {f"{i}.{field}" for i in range(n) for field in _FIELDS}
    return set(arrays) == expected


def set_aside(path: Path, why: str) -> None:
    """Remove a damaged file of ``searches/`` and say so once (one line, naming the file)."""
    warnings.warn(f"search cache: removed damaged file {path} ({why}); recomputing it", SearchCacheWarning,
                  stacklevel=3)
    with contextlib.suppress(OSError):
        path.unlink()


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
        """The stored results, or None if absent or damaged (a damaged file is removed, with a warning)."""
        path = self._path(digest)
        try:
            z = read_checked_npz(path)
            names = [str(n) for n in z["names"]]
            n_docs = z["n_docs"]
            out = {}
            for i, name in enumerate(names):
                f = {field: z[f"{i}.{field}"] for field in _FIELDS}
                out[name] = SearchResult(
                    f["top_idx"].astype(np.int64), f["top_scores"], f["rel_idx"].astype(np.int64),
                    f["rel_ranks"].astype(np.int64), f["rel_scores"], int(n_docs[i]))
        except (FileNotFoundError, OlderFormat):  # a miss; an older file is overwritten by the next save
            return None
        except Exception as exc:  # noqa: BLE001 - a checksummed file that still does not fit: damage all the same
            set_aside(path, str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}")
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
        arrays[CHECKSUM] = np.asarray(arrays_digest(arrays))
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
