"""Pools of any size: dense vectors encoded into shards on disk, searched by streaming the shards.

**Storage.** A store is a folder:

- ``shard-00000.vec.npy`` ... : (rows, dim) float32 or float16 vectors, ``shard_size`` rows each (the last shorter);
- ``shard-00000.ids.txt`` ... : the rows' document ids, one per line, UTF-8;
- ``shard-00000.order.npy`` ... : uint64 tie-break keys = each row's position in ascending id order over the
  WHOLE store (written by :meth:`ShardWriter.close`; see :func:`~mlir_bench.search.exact.doc_id_order`);
- ``manifest.json``: format, dim, dtype, row count, ``meta`` (what the vectors are: model vector key, corpus
  fingerprint), and per shard its rows, first position and the sha256 of its three files. It is rewritten
  atomically after every shard, with ``complete: false`` until :meth:`ShardWriter.close`.

An interrupted encoding resumes: :class:`ShardWriter` reopened on the same folder with the same ``meta`` keeps
the finished shards (checksums verified) and reports ``rows_done``; the caller skips that many rows.

**Search.** :func:`sharded_search` keeps the queries resident and reads one shard at a time, so peak memory is
one shard (float32) plus one (queries x shard rows) block of scores and keys, plus the running top-k; it does
not grow with the number of shards. Ranking uses exactly the machinery of :mod:`~mlir_bench.search.exact`
(uint64 keys = score bits + id order, trec_eval ties, full-ranking ranks of relevant documents via
``count_greater``, heap top-k, merge), so a store searched shard by shard ranks exactly as
:func:`~mlir_bench.search.exact.exact_search` on the concatenated array (same scores -> same ranks).

The ranks of the relevant documents need their keys before the counting pass, and the keys must come from the
same block computation as the ranking (BLAS results can depend on block shape), so shards holding a relevant
document of the current query block are read twice (a first pass reads only those shards). Exact top-k over a
union equals the merge of per-shard top-k, so nothing is lost by sharding (docs/PROTOCOLS.md §6).

Only the id-order keys need a global view: :meth:`ShardWriter.close` sorts all ids once (memory ~ the ids,
not the vectors). Sparse (BM25) vectors are not sharded: lexical models use the in-memory path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UserError
from ..io import atomic_open, sha256_file, write_json
from .base import SearchResult
from .exact import DEFAULT_BUDGET, _compact, _scores, doc_id_order, keys_to_scores
from .kernels import count_greater, sort_keys_2d, topk_keys

FORMAT = "mlir-bench-shards/1"
MANIFEST = "manifest.json"
DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class Shard:
    name: str
    start: int
    rows: int
    sha256: dict[str, str]


def _shard_files(folder: Path, name: str) -> dict[str, Path]:
    return {"vec": folder / f"{name}.vec.npy", "ids": folder / f"{name}.ids.txt", "order": folder / f"{name}.order.npy"}


class ShardWriter:
    """Append (ids, vectors) in any batch size; full shards go to disk as they fill.

    ``meta`` identifies what is stored (e.g. ``{"vector_key": ..., "corpus": <fingerprint>}``): reopening a
    folder whose manifest has other ``meta`` (or another dim/dtype/shard size) is an error unless
    ``overwrite``, so vectors of different models or corpora never mix.
    """

    def __init__(self, folder: str | Path, dim: int, *, dtype: str = "float32", shard_size: int = 100_000,
                 meta: Mapping[str, Any] | None = None, overwrite: bool = False) -> None:
        if dtype not in DTYPES:
            raise UserError(f"shard dtype {dtype!r} is unknown; expected one of {', '.join(DTYPES)}")
        if shard_size < 1:
            raise UserError(f"shard size must be positive, got {shard_size}")
        self.folder = Path(folder)
        self.dim, self.dtype, self.shard_size = int(dim), dtype, int(shard_size)
        self.meta = dict(meta or {})
        self.shards: list[Shard] = []
        self._ids: list[str] = []
        self._vecs: list[np.ndarray] = []
        self._buffered = 0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot create the shard folder ({exc.strerror or exc})") from None
        man = self.folder / MANIFEST
        if man.exists() and not overwrite:
            self._resume(_read_manifest(man))
        elif overwrite:
            for old in self.folder.glob("shard-*"):
                old.unlink()
            if man.exists():
                man.unlink()

    @property
    def rows_done(self) -> int:
        """Rows already on disk (finished shards), e.g. from an interrupted run: skip them when resuming."""
        return sum(s.rows for s in self.shards)

    def _resume(self, m: dict[str, Any]) -> None:
        want = {"dim": self.dim, "dtype": self.dtype, "shard_size": self.shard_size, "meta": self.meta}
        have = {k: m.get(k) for k in want}
        if have != want:
            diff = ", ".join(f"{k}: {have[k]!r} != {want[k]!r}" for k in want if have[k] != want[k])
            raise DataError(self.folder / MANIFEST, f"holds other vectors ({diff}); use another folder or overwrite")
        if m.get("complete"):
            raise DataError(self.folder / MANIFEST, "store is already complete; open it with ShardedStore.open")
        for s in m["shards"]:
            shard = Shard(s["name"], int(s["start"]), int(s["rows"]), dict(s["sha256"]))
            files = _shard_files(self.folder, shard.name)
            if any(not files[k].exists() or sha256_file(files[k]) != shard.sha256[k] for k in ("vec", "ids")):
                break  # a damaged tail shard is re-encoded, together with everything after it
            self.shards.append(shard)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Buffer a batch; write every shard that fills."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or vectors.shape[0] != len(ids):
            raise UserError(f"shard writer: got {len(ids)} ids and vectors of shape {vectors.shape}, "
                            f"expected ({len(ids)}, {self.dim})")
        bad = next((i for i in ids if "\n" in i or "\r" in i), None)
        if bad is not None:
            raise UserError(f"document id {bad!r} contains a line break; ids are stored one per line")
        self._ids.extend(ids)
        self._vecs.append(vectors.astype(self.dtype, copy=False))
        self._buffered += len(ids)
        while self._buffered >= self.shard_size:
            self._flush(self.shard_size)

    def _flush(self, rows: int) -> None:
        vecs = np.concatenate(self._vecs, axis=0) if len(self._vecs) > 1 else self._vecs[0]
        head, tail = vecs[:rows], vecs[rows:]
        ids, self._ids = self._ids[:rows], self._ids[rows:]
        self._vecs = [tail] if len(tail) else []
        self._buffered = len(self._ids)
        name = f"shard-{len(self.shards):05d}"
        files = _shard_files(self.folder, name)
        with atomic_open(files["vec"], "wb") as fh:
            np.save(fh, np.ascontiguousarray(head))
        with atomic_open(files["ids"], "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(f"{i}\n" for i in ids))
        self.shards.append(Shard(name, self.rows_done, rows,
                                 {"vec": sha256_file(files["vec"]), "ids": sha256_file(files["ids"])}))
        self._write_manifest(complete=False)

    def _write_manifest(self, *, complete: bool) -> None:
        write_json(self.folder / MANIFEST, {
            "format": FORMAT, "dim": self.dim, "dtype": self.dtype, "shard_size": self.shard_size,
            "rows": self.rows_done, "complete": complete, "meta": self.meta,
            "shards": [{"name": s.name, "start": s.start, "rows": s.rows, "sha256": s.sha256} for s in self.shards],
        })

    def close(self) -> ShardedStore:
        """Write the last partial shard, the id-order keys of every shard, and the final manifest."""
        if self._buffered:
            self._flush(self._buffered)
        ids: list[str] = []
        for s in self.shards:
            ids.extend(_read_ids(_shard_files(self.folder, s.name)["ids"], s.rows))
        order = doc_id_order(ids)
        del ids
        done = []
        for s in self.shards:
            path = _shard_files(self.folder, s.name)["order"]
            with atomic_open(path, "wb") as fh:
                np.save(fh, order[s.start : s.start + s.rows])
            done.append(Shard(s.name, s.start, s.rows, {**s.sha256, "order": sha256_file(path)}))
        self.shards = done
        self._write_manifest(complete=True)
        return ShardedStore.open(self.folder)


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise DataError(path, "no shard store here (manifest.json is missing)")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, f"not a valid manifest ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise DataError(path, f"format is {m.get('format') if isinstance(m, dict) else None!r}, expected {FORMAT}")
    return m


def _read_ids(path: Path, rows: int) -> list[str]:
    try:
        ids = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read the shard ids ({exc})") from None
    if ids and ids[-1] == "":
        ids.pop()
    if len(ids) != rows:
        raise DataError(path, f"{len(ids)} ids, expected {rows} (manifest)")
    return ids


class ShardedStore:
    """A complete shard folder, read one shard at a time."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        self.dim = int(manifest["dim"])
        self.dtype = str(manifest["dtype"])
        self.meta = dict(manifest.get("meta", {}))
        self.shards = [Shard(s["name"], int(s["start"]), int(s["rows"]), dict(s["sha256"]))
                       for s in manifest["shards"]]
        self.n = sum(s.rows for s in self.shards)

    @classmethod
    def open(cls, folder: str | Path, *, verify: bool = False) -> ShardedStore:
        folder = Path(folder)
        m = _read_manifest(folder / MANIFEST)
        if not m.get("complete"):
            raise DataError(folder / MANIFEST, "store is incomplete (encoding was interrupted); resume it first")
        store = cls(folder, m)
        if verify:
            store.verify()
        return store

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.dim)

    def verify(self) -> None:
        """Recompute every file's sha256 against the manifest."""
        for s in self.shards:
            for kind, path in _shard_files(self.folder, s.name).items():
                digest = sha256_file(path)
                if digest != s.sha256.get(kind):
                    raise DataError(path, f"sha256 is {digest}, expected {s.sha256.get(kind)} (manifest)")

    def load(self, shard: Shard) -> tuple[np.ndarray, np.ndarray]:
        """(float32 vectors, uint64 id-order keys) of one shard, read fully into memory (no mmap: a mapped file
        would stay resident and count towards the process's memory until unmapped)."""
        files = _shard_files(self.folder, shard.name)
        try:
            vec = np.load(files["vec"], allow_pickle=False)
            order = np.load(files["order"], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(files["vec"], f"cannot read the shard ({exc})") from None
        if vec.shape != (shard.rows, self.dim) or order.shape != (shard.rows,):
            raise DataError(files["vec"], f"shape {vec.shape}, expected ({shard.rows}, {self.dim}) (manifest)")
        return np.asarray(vec, dtype=np.float32), order.astype(np.uint64, copy=False)

    def iter_shards(self) -> Iterator[tuple[Shard, np.ndarray, np.ndarray]]:
        for s in self.shards:
            vec, order = self.load(s)
            yield s, vec, order

    def ids(self) -> list[str]:
        """Every id in store order (memory ~ the ids)."""
        out: list[str] = []
        for s in self.shards:
            out.extend(_read_ids(_shard_files(self.folder, s.name)["ids"], s.rows))
        return out

    def vectors(self, positions: np.ndarray) -> np.ndarray:
        """The float32 vectors at the given global positions (reads only the shards that hold them)."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), self.dim), dtype=np.float32)
        for s in self.shards:
            hit = np.flatnonzero((positions >= s.start) & (positions < s.start + s.rows))
            if hit.size:
                vec, _ = self.load(s)
                out[hit] = vec[positions[hit] - s.start]
        return out


def write_store(folder: str | Path, ids: Sequence[str], vectors: np.ndarray, *, shard_size: int = 100_000,
                dtype: str = "float32", meta: Mapping[str, Any] | None = None) -> ShardedStore:
    """Write an in-memory matrix as a store (tests, benchmarks)."""
    w = ShardWriter(folder, vectors.shape[1], dtype=dtype, shard_size=shard_size, meta=meta, overwrite=True)
    for a in range(0, len(ids), shard_size):
        w.add(ids[a : a + shard_size], vectors[a : a + shard_size])
    return w.close()


def encode_to_shards(
    encode: Callable[[list[str]], np.ndarray],
    ids: Sequence[str],
    texts: Sequence[str],
    folder: str | Path,
    *,
    dim: int,
    shard_size: int = 100_000,
    dtype: str = "float32",
    meta: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[ShardedStore, dict[str, Any]]:
    """Encode ``texts`` shard by shard into ``folder``; resume after the finished shards of an earlier run.

    ``encode(texts) -> (len, dim) float32`` is called once per shard (the embedding stage dedups and caches
    inside a shard, so an interrupted shard is also resumed from the embedding cache when one is in use).
    Returns the store and stats (rows encoded now, rows reused, seconds).
    """
    t0 = time.perf_counter()
    full_meta = {**dict(meta or {}), "rows": len(ids)}
    man = Path(folder) / MANIFEST
    if man.exists():
        m = _read_manifest(man)
        same = (m.get("dim"), m.get("dtype"), m.get("shard_size"), m.get("meta")) == (dim, dtype, shard_size, full_meta)
        if m.get("complete") and same:  # a finished store of the same vectors: reuse it as it is
            store = ShardedStore(Path(folder), m)
            if progress is not None:
                progress(store.n)
            return store, {"rows": len(ids), "reused_rows": store.n, "encoded_rows": 0,
                           "shards": len(store.shards), "seconds": round(time.perf_counter() - t0, 3)}
    w = ShardWriter(folder, dim, dtype=dtype, shard_size=shard_size, meta=full_meta)
    done = w.rows_done
    if progress is not None and done:
        progress(done)
    for a in range(done, len(ids), shard_size):
        b = min(len(ids), a + shard_size)
        vecs = encode(list(texts[a:b]))
        w.add(ids[a:b], vecs)
        if progress is not None:
            progress(b - a)
    store = w.close()
    if store.n != len(ids):
        raise DataError(folder, f"store holds {store.n} rows, expected {len(ids)}")
    return store, {"rows": len(ids), "reused_rows": done, "encoded_rows": len(ids) - done,
                   "shards": len(store.shards), "seconds": round(time.perf_counter() - t0, 3)}


def sharded_search(
    queries: np.ndarray,
    store: ShardedStore,
    *,
    k: int = 100,
    relevant: np.ndarray | None = None,
    views: Mapping[str, np.ndarray] | None = None,
    memory_budget: int = DEFAULT_BUDGET,
) -> dict[str, SearchResult]:
    """Rank every view of the store for every query, streaming the shards (see the module docstring).

    Arguments and result are those of :func:`~mlir_bench.search.exact.exact_search`; positions are global
    positions in the store. Queries stay resident; they are processed in blocks only if one block of
    (queries x shard rows) keys would exceed ``memory_budget``.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n_q, n_d = queries.shape[0], store.n
    if queries.shape[1] != store.dim:
        raise ValueError(f"query dim {queries.shape[1]} != store dim {store.dim}")
    views = {"all": np.arange(n_d)} if views is None else dict(views)
    rel = np.full((n_q, 1), -1, dtype=np.int64) if relevant is None else np.asarray(relevant, dtype=np.int64)
    max_rel = rel.shape[1]
    largest = max((s.rows for s in store.shards), default=1)
    q_chunk = int(max(1, min(n_q, memory_budget // (12 * max(largest, 1)))))
    masks = {}
    for name, v in views.items():
        m = np.zeros(n_d, dtype=bool)
        m[np.asarray(v, dtype=np.int64)] = True
        masks[name] = m
    kk = {name: min(k, int(m.sum())) for name, m in masks.items()}
    top_keys = {n: np.zeros((n_q, kk[n]), dtype=np.uint64) for n in views}
    top_idx = {n: np.full((n_q, kk[n]), -1, dtype=np.int64) for n in views}
    greater = {n: np.zeros((n_q, max_rel), dtype=np.int64) for n in views}
    valid = rel >= 0
    rel_safe = np.where(valid, rel, 0)
    rel_scores = np.full((n_q, max_rel), np.nan, dtype=np.float32)
    rows_all = np.arange(n_q)
    for q0 in range(0, n_q, q_chunk):
        q1 = min(n_q, q0 + q_chunk)
        qc = queries[q0:q1]
        rows = rows_all[: q1 - q0][:, None]
        rsafe = rel_safe[q0:q1]
        rvalid = valid[q0:q1]
        rkeys = np.zeros((q1 - q0, max_rel), dtype=np.uint64)
        for s in store.shards:  # pass 1: keys of the relevant documents, from the blocks that rank them
            hit = rvalid & (rsafe >= s.start) & (rsafe < s.start + s.rows)
            if not hit.any():
                continue
            vec, order = store.load(s)
            keys = sort_keys_2d(_scores(qc, vec), order)
            rk = keys[rows, np.clip(rsafe - s.start, 0, s.rows - 1)]
            rkeys = np.where(hit, rk, rkeys)
        rel_scores[q0:q1] = np.where(rvalid, keys_to_scores(rkeys), np.nan)
        cur: dict[str, tuple[np.ndarray, np.ndarray] | None] = dict.fromkeys(masks)
        for s, vec, order in store.iter_shards():  # pass 2: running top-k and counts, one shard at a time
            keys = sort_keys_2d(_scores(qc, vec), order)
            del vec
            for name, m in masks.items():
                cols = np.flatnonzero(m[s.start : s.start + s.rows])
                if cols.size == 0:
                    continue
                g = greater[name][q0:q1]
                count_greater(keys, cols, rkeys, g)
                greater[name][q0:q1] = g
                ck, ci = topk_keys(keys, cols, kk[name], s.start)
                prev = cur[name]
                cur[name] = (ck, ci) if prev is None else _merge_topk(prev[0], prev[1], ck, ci, kk[name])
            del keys
        for name, got in cur.items():  # a view's top list is complete (kk wide) once every shard was seen
            if got is not None:
                top_keys[name][q0:q1], top_idx[name][q0:q1] = got
    out: dict[str, SearchResult] = {}
    for name, m in masks.items():
        in_view = valid & m[rel_safe]
        pad = k - kk[name]
        t_idx = top_idx[name]
        t_sc = np.where(t_idx >= 0, keys_to_scores(top_keys[name]), -np.inf).astype(np.float32)
        if pad > 0:
            t_idx = np.concatenate([t_idx, np.full((n_q, pad), -1, dtype=np.int64)], axis=1)
            t_sc = np.concatenate([t_sc, np.full((n_q, pad), -np.inf, dtype=np.float32)], axis=1)
        ri, rr, rsc = _compact(in_view, rel, greater[name] + 1, rel_scores)
        out[name] = SearchResult(t_idx, t_sc, ri, rr, rsc, int(m.sum()))
    return out


def _merge_topk(keys_a: np.ndarray, idx_a: np.ndarray, keys_b: np.ndarray, idx_b: np.ndarray, k: int):
    """The k largest keys of two best-first lists (keys are unique per row: the id order breaks ties)."""
    keys = np.concatenate([keys_a, keys_b], axis=1)
    idx = np.concatenate([idx_a, idx_b], axis=1)
    if keys.shape[1] > k:
        part = np.argpartition(keys, keys.shape[1] - k, axis=1)[:, -k:]
        keys = np.take_along_axis(keys, part, axis=1)
        idx = np.take_along_axis(idx, part, axis=1)
    order = np.argsort(keys, axis=1)[:, ::-1]
    return np.take_along_axis(keys, order, axis=1), np.take_along_axis(idx, order, axis=1)


def store_folder(root: str | Path, key: str) -> Path:
    """A stable folder for one (model vector key, corpus) pair under ``root``."""
    import hashlib

    return Path(root) / hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


__all__ = ["FORMAT", "Shard", "ShardWriter", "ShardedStore", "encode_to_shards", "sharded_search", "store_folder",
           "write_store"]
