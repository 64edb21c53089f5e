"""The on-disk embedding cache: append-only, checksummed shards of vectors, one folder per vector key.

Layout under ``root`` (default ``~/.cache/mlir-bench/embeddings``; ``$MLIR_BENCH_CACHE`` moves the base)::

    root/<vector key>/key.json                      what the key stands for (model, revision, role, prompt, ...)
    root/<vector key>/<time_ns>-<pid>-<rand>.vec    one shard per finished encoding chunk

The **vector key** (:meth:`mlir_bench.encoders.base.ModelMeta.vector_key`) hashes everything that changes a
vector except the text: model name and revision, role and prompt, maximum length, pooling, normalisation,
dtype and similarity. Inside a key folder a text is found by the sha256 of its UTF-8 bytes, so the full cache
key of a vector is (vector key, sha256(text)). (mteb keys on the text alone, so two models or two prompts
would share vectors; here they never do.)

**Shard format** (``.vec``, little-endian), one self-describing file::

    8 bytes   magic b"MLIRVEC1"
    4 bytes   header length H (uint32)
    H bytes   UTF-8 JSON header: {"format": 1, "key", "n", "dim", "dtype": "float32", "sha256", "created", "pid"}
    n*32      the sha256 digests of the n texts, in row order
    n*dim*4   the vectors, float32, row-major

``sha256`` in the header is the digest of the payload (digests + vectors). A shard is valid when its size is
exactly ``12 + H + n*32 + n*dim*4`` and its payload matches ``sha256``.

**Guarantees** (what the reliability tests and kill scripts may rely on):

* *Atomic writes.* A shard is written to a hidden temporary file in the key folder, fsynced and renamed into
  place (:func:`mlir_bench.io.atomic_open`). A reader therefore sees a shard completely or not at all; a killed
  writer leaves at most a ``.*.tmp`` file, which readers ignore, :meth:`EmbeddingCache.compact` deletes once
  it is an hour old, and ``mlir-bench cache verify`` (:meth:`EmbeddingCache.remove_stale_tmp`) deletes once it
  is ten minutes old.
* *Append-only, concurrent writers.* Shard names are unique per (time, pid, random), so any number of processes
  (or Ray workers) may write the same key at once without locks; the same text written twice is harmless (both
  copies hold the same vector; either may be returned). Only compaction takes a lock (``.compact.lock``,
  non-blocking: a second compactor skips). Writers never compact; :func:`embed_corpus` calls
  :meth:`EmbeddingCache.maybe_compact` after encoding, which merges only many *small* shards.
* *Corruption is detected, never served.* A truncated shard, a bad header (also a header whose JSON is valid but
  lacks a field, e.g. a flipped bit in a field name) or a checksum mismatch makes the shard
  invalid: it is renamed to ``*.vec.corrupt`` (so the warning is issued once), a :class:`CacheCorruptionWarning`
  is issued, and its texts count as missing, so the caller re-encodes them.
* *Resumption.* :func:`mlir_bench.embedding.embed.embed_corpus` stores each finished chunk as one shard, so an
  interrupted encoding resumes from the last finished chunk: the next run finds those texts here.
* *Lookup cost.* A lookup reads every shard's header and digests (32 bytes per text), and the vector rows only of
  shards that hold a requested text; those shards are checksummed as they are read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import struct
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_open, write_json

MAGIC = b"MLIRVEC1"
FORMAT = 1
SUFFIX = ".vec"
DIGEST = 32  # bytes of sha256 per text
# maybe_compact merges a key's shards when there are more than this many and they are small on average
AUTO_COMPACT_SHARDS = 128
SMALL_SHARD_ROWS = 4096
COMPACT_ROWS = 262_144  # rows per shard written by compaction
STALE_TMP_SECONDS = 3600.0
VERIFY_TMP_SECONDS = 600.0  # `mlir-bench cache verify` removes temporary files older than this
HEADER_FIELDS = ("format", "key", "n", "dim", "dtype", "sha256")  # required in every shard header


class CacheCorruptionWarning(UserWarning):
    """A cache shard failed its size or checksum test; it was set aside and its texts will be re-encoded."""


def text_digests(texts: Sequence[str]) -> np.ndarray:
    """(n, 32) uint8: the sha256 of each text's UTF-8 bytes."""
    out = np.empty((len(texts), DIGEST), dtype=np.uint8)
    if len(texts):
        buf = b"".join(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts)
        out[:] = np.frombuffer(buf, dtype=np.uint8).reshape(len(texts), DIGEST)
    return out


def _prefix64(digests: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each digest as one uint64: the lookup key (the full digest is then compared)."""
    return np.ascontiguousarray(digests[:, :8]).view("<u8").ravel()


@dataclass
class _Shard:
    path: Path
    n: int
    dim: int
    offset: int  # where the payload (digests) starts
    sha256: str
    digests: np.ndarray  # (n, 32) uint8


class _Vanished(Exception):
    """A shard disappeared between listing and reading (a concurrent compaction): list again."""


class EmbeddingCache:
    """Vectors on disk keyed by (vector key, sha256(text)); see the module docstring for format and guarantees.

    The interface the embedding stage uses is :meth:`get_many` and :meth:`put_many`. Only dense float32
    vectors are stored. Instances hold no open files and may be created in any process (Ray workers included).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    # ---------------------------------------------------------------------------------------------- reading
    def get_many(self, key: str, texts: Sequence[str]) -> tuple[np.ndarray | None, list[int]]:
        """Cached vectors for ``texts`` under ``key``.

        Returns ``(vectors, todo)``: ``vectors`` is (len(texts), dim) float32 with the cached rows filled (other
        rows are zero), or None when no text is cached; ``todo`` lists, ascending, the positions of the texts
        that are not cached (or whose shard proved corrupt) and must be encoded.
        """
        if not texts:
            return None, []
        want = text_digests(texts)
        try:
            return self._retrying(lambda: self._lookup(key, want))
        except _Vanished:
            return None, list(range(len(texts)))  # a compaction storm: treat as a miss, never fail the run

    @staticmethod
    def _retrying(read: Any) -> Any:
        """``read()``, again while a concurrent compaction makes shards vanish under it (8 tries)."""
        for _ in range(8):
            try:
                return read()
            except _Vanished:
                continue
        raise _Vanished()

    def _lookup(self, key: str, want: np.ndarray) -> tuple[np.ndarray | None, list[int]]:
        n = len(want)
        bad: set[Path] = set()
        while True:
            shards = [s for s in self._scan(key) if s.path not in bad]
            if not shards:
                return None, list(range(n))
            dims = {s.dim for s in shards}
            if len(dims) > 1:  # cannot happen under one key unless files were moved by hand
                keep = max(dims, key=lambda d: sum(s.n for s in shards if s.dim == d))
                for s in shards:
                    if s.dim != keep:
                        self._quarantine(s.path, f"dimension {s.dim} differs from the key's {keep}")
                        bad.add(s.path)
                continue
            dim = shards[0].dim
            all_dig = np.concatenate([s.digests for s in shards])
            owner = np.repeat(np.arange(len(shards)), [s.n for s in shards])
            row = np.concatenate([np.arange(s.n) for s in shards])
            pre = _prefix64(all_dig)
            order = np.argsort(pre, kind="stable")
            pre_sorted = pre[order]
            wpre = _prefix64(want)
            pos = np.searchsorted(pre_sorted, wpre)
            pos_c = np.minimum(pos, len(pre_sorted) - 1)
            cand = order[pos_c]
            hit = (pre_sorted[pos_c] == wpre) & (all_dig[cand] == want).all(axis=1)
            if not hit.any():
                return None, list(range(n))
            out = np.zeros((n, dim), dtype=np.float32)
            failed = False
            hit_idx = np.flatnonzero(hit)
            for si in np.unique(owner[cand[hit_idx]]):
                sel = hit_idx[owner[cand[hit_idx]] == si]
                vecs = self._read_vectors(shards[si])
                if vecs is None:
                    bad.add(shards[si].path)
                    failed = True
                    break
                out[sel] = vecs[row[cand[sel]]]
            if failed:
                continue
            todo = np.flatnonzero(~hit).tolist()
            return out, todo

    def _scan(self, key: str) -> list[_Shard]:
        folder = self.root / key
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(SUFFIX) and e.is_file())
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            s = self._read_header(folder / name, key)
            if s is not None:
                out.append(s)
        return out

    def _read_header(self, path: Path, key: str) -> _Shard | None:
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = fh.read(12)
                if len(head) < 12 or head[:8] != MAGIC:
                    raise ValueError("not a mlir-bench vector shard (bad magic)")
                (hlen,) = struct.unpack("<I", head[8:12])
                if hlen > 1 << 20:
                    raise ValueError("header length out of range")
                header = json.loads(fh.read(hlen).decode("utf-8"))
                if not isinstance(header, dict):
                    raise ValueError(f"header is a JSON {type(header).__name__}, expected an object")
                missing = [f for f in HEADER_FIELDS if f not in header]
                if missing:  # e.g. a flipped bit in a field name ("sha256" -> "rha256")
                    raise ValueError(f"header misses field(s) {', '.join(missing)}")
                n, dim, sha = header["n"], header["dim"], header["sha256"]
                if not (type(n) is int and type(dim) is int and n >= 0 and dim >= 1):
                    raise ValueError(f"header n={n!r} dim={dim!r}, expected non-negative integers")
                if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
                    raise ValueError(f"header sha256 {str(sha)[:80]!r} is not a hex sha256")
                if header.get("format") != FORMAT or header.get("dtype") != "float32":
                    raise ValueError(f"unsupported format {header.get('format')} / dtype {header.get('dtype')}")
                if header.get("key") != key:
                    raise ValueError(f"shard belongs to key {header.get('key')}, not {key}")
                offset = 12 + hlen
                expected = offset + n * DIGEST + n * dim * 4
                if size != expected:
                    raise ValueError(f"size {size} bytes, expected {expected} (truncated or padded)")
                raw = fh.read(n * DIGEST)
                if len(raw) != n * DIGEST:
                    raise ValueError("truncated digests")
        except FileNotFoundError:
            raise _Vanished() from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, struct.error, OverflowError,
                RecursionError) as exc:  # any damage to the header: set aside, never a crash
            self._quarantine(path, str(exc))
            return None
        digests = np.frombuffer(raw, dtype=np.uint8).reshape(n, DIGEST)
        return _Shard(path, n, dim, offset, sha, digests)

    def _read_vectors(self, s: _Shard) -> np.ndarray | None:
        """The shard's vectors after checking the payload checksum; None (and quarantine) when it fails."""
        try:
            with open(s.path, "rb") as fh:
                fh.seek(s.offset)
                payload = fh.read()
        except FileNotFoundError:
            raise _Vanished() from None
        if len(payload) != s.n * (DIGEST + s.dim * 4) or hashlib.sha256(payload).hexdigest() != s.sha256:
            self._quarantine(s.path, "checksum mismatch")
            return None
        return np.frombuffer(payload, dtype="<f4", offset=s.n * DIGEST).reshape(s.n, s.dim)

    def _quarantine(self, path: Path, why: str) -> None:
        warnings.warn(f"embedding cache: ignoring corrupt shard {path} ({why}); its texts will be re-encoded",
                      CacheCorruptionWarning, stacklevel=4)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".corrupt"))

    # ---------------------------------------------------------------------------------------------- writing
    def put_many(self, key: str, texts: Sequence[str], vectors: np.ndarray) -> Path | None:
        """Store ``vectors[i]`` for ``texts[i]`` under ``key`` as one new shard (atomic); return its path.

        ``vectors`` must be a finite 2-D array with one row per text; it is stored as float32.
        """
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"put_many: {len(texts)} texts but vectors of shape {vectors.shape}")
        if not len(texts):
            return None
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if not np.isfinite(vectors).all():
            raise ValueError("put_many: vectors hold NaN or inf; refusing to cache them")
        return self._write_shard(key, text_digests(texts), vectors)

    def _write_shard(self, key: str, digests: np.ndarray, vectors: np.ndarray) -> Path:
        n, dim = vectors.shape
        payload_parts = (np.ascontiguousarray(digests, dtype=np.uint8).tobytes(), vectors.tobytes())
        h = hashlib.sha256()
        for p in payload_parts:
            h.update(p)
        header = json.dumps({"format": FORMAT, "key": key, "n": n, "dim": dim, "dtype": "float32",
                             "sha256": h.hexdigest(), "created": time.time(), "pid": os.getpid()},
                            sort_keys=True).encode("utf-8")
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        path = self.root / key / name
        with atomic_open(path, "wb") as fh:
            fh.write(MAGIC + struct.pack("<I", len(header)) + header)
            for p in payload_parts:
                fh.write(p)
        return path

    def describe(self, key: str, fields: Mapping[str, Any]) -> None:
        """Write ``key.json`` (what the key stands for) once, for people browsing the cache."""
        path = self.root / key / "key.json"
        if not path.exists():
            write_json(path, dict(fields))

    # ---------------------------------------------------------------------------------------------- upkeep
    def n_shards(self, key: str) -> int:
        try:
            return sum(1 for e in os.scandir(self.root / key) if e.name.endswith(SUFFIX))
        except FileNotFoundError:
            return 0

    def keys(self) -> list[str]:
        """The vector keys present under ``root``."""
        try:
            return sorted(e.name for e in os.scandir(self.root) if e.is_dir() and e.name != "searches")
        except FileNotFoundError:
            return []

    def stats(self, key: str) -> dict[str, int]:
        """Shard count, stored rows (duplicates included) and bytes of one key (headers only are read)."""
        try:
            shards = self._retrying(lambda: self._scan(key))
        except _Vanished:
            shards = []
        return {"shards": len(shards), "rows": sum(s.n for s in shards),
                "bytes": sum(s.path.stat().st_size for s in shards if s.path.exists())}

    def verify(self, key: str) -> dict[str, Any]:
        """Read every shard of ``key`` in full and check its size and checksum.

        Corrupt shards are quarantined as on any read (renamed ``*.vec.corrupt``; their texts are re-encoded by
        the next run). Returns ``{"shards", "rows", "unique_texts", "corrupt": [one line per bad shard]}``.
        """
        def read() -> tuple[list[_Shard], list[str]]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CacheCorruptionWarning)
                good = [s for s in self._scan(key) if self._read_vectors(s) is not None]
            return good, [str(w.message) for w in caught if issubclass(w.category, CacheCorruptionWarning)]

        try:
            good, corrupt = self._retrying(read)
        except _Vanished:  # pragma: no cover - only under a compaction storm
            raise RuntimeError(f"embedding cache key {key}: shards kept vanishing while verifying") from None
        unique = int(len(np.unique(np.concatenate([s.digests for s in good]), axis=0))) if good else 0
        return {"shards": len(good), "rows": sum(s.n for s in good), "unique_texts": unique, "corrupt": corrupt}

    def remove_stale_tmp(self, min_age: float = VERIFY_TMP_SECONDS) -> tuple[list[Path], list[Path]]:
        """Delete the temporary files (``.*.tmp``) that killed writers left anywhere under ``root``.

        Shard writers, ``key.json`` and the search checkpoints and bias memos in ``root/searches`` all write
        through :func:`mlir_bench.io.atomic_open`, whose temporary file is ``.<name>.<random>.tmp`` beside the
        target. Only files not modified for ``min_age`` seconds are removed (a younger one may belong to a writer
        that is running now). Returns ``(removed, kept)``.
        """
        removed: list[Path] = []
        kept: list[Path] = []
        if not self.root.is_dir():
            return removed, kept
        now = time.time()
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if not (name.startswith(".") and name.endswith(".tmp")):
                    continue
                p = Path(dirpath) / name
                try:
                    young = now - p.stat().st_mtime < min_age
                    if not young:
                        p.unlink()
                except FileNotFoundError:  # its writer finished (renamed it) or another process removed it
                    continue
                except OSError:
                    young = True
                (kept if young else removed).append(p)
        return sorted(removed), sorted(kept)

    def describe_key(self, key: str) -> dict[str, Any]:
        """The fields of ``key.json`` (model, role, prompt, ...), or ``{}`` when it is missing or unreadable."""
        try:
            fields = json.loads((self.root / key / "key.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return fields if isinstance(fields, dict) else {}

    def maybe_compact(self, key: str) -> bool:
        """Compact ``key`` if it holds many small shards (e.g. after many interrupted runs); True if it did.

        Large shards are left alone: what a lookup costs is the 32-byte digests it reads per stored text, not the
        number of files, and rewriting hundreds of GB to merge big shards would gain nothing.
        """
        n = self.n_shards(key)
        if n <= AUTO_COMPACT_SHARDS:
            return False
        if self.stats(key)["rows"] / max(n, 1) >= SMALL_SHARD_ROWS:
            return False
        return self.compact(key)

    def compact(self, key: str) -> bool:
        """Merge a key's shards into few large ones, dropping duplicate texts; False if another process is at it.

        The merged shards are written (atomically) before the old ones are removed, so a concurrent reader
        always finds every vector; a reader that lists a shard just removed simply lists again.
        """
        from filelock import FileLock, Timeout

        folder = self.root / key
        if not folder.is_dir():
            return True
        lock = FileLock(str(folder / ".compact.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        try:
            now = time.time()
            for e in os.scandir(folder):  # temporary files of writers killed long ago
                if e.name.startswith(".") and e.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):  # also: renamed into place by its writer since the listing
                        if now - e.stat().st_mtime > STALE_TMP_SECONDS:
                            os.unlink(e.path)
            try:
                shards = self._scan(key)
            except _Vanished:
                return False
            if len(shards) <= 1:
                return True
            seen: set[bytes] = set()
            digs: list[np.ndarray] = []
            vecs: list[np.ndarray] = []
            used: list[Path] = []
            for s in shards:
                v = self._read_vectors(s)
                if v is None:
                    continue
                used.append(s.path)
                keep = []
                for i in range(s.n):
                    d = s.digests[i].tobytes()
                    if d not in seen:
                        seen.add(d)
                        keep.append(i)
                digs.append(s.digests[keep])
                vecs.append(v[keep])
            if not used:
                return True
            all_d, all_v = np.concatenate(digs), np.concatenate(vecs)
            for a in range(0, len(all_d), COMPACT_ROWS):
                self._write_shard(key, all_d[a:a + COMPACT_ROWS], all_v[a:a + COMPACT_ROWS])
            for p in used:
                with contextlib.suppress(OSError):
                    os.unlink(p)
            return True
        finally:
            lock.release()
