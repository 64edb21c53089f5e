"""Filesystem helpers shared by every stage: atomic writes, hashing and checksummed, resumable downloads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import DataError, UserError

CHUNK = 1 << 20
ENV_CACHE = "MLIR_BENCH_CACHE"
_UMASK = os.umask(0)
os.umask(_UMASK)


def default_cache_root() -> Path:
    """``$MLIR_BENCH_CACHE`` or ``~/.cache/mlir-bench``: downloads, embeddings, shards, teacher vectors, rebuilt models."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "mlir-bench")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A crash or an exception leaves ``path`` untouched (either the old content or absent), never half-written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path.parent}: cannot write here ({exc.strerror or exc}), expected a writable folder") from None
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (None, tmp):
            # a failed write (disk full, ...): name the target, not the hidden temporary file (same OSError subclass)
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


@contextlib.contextmanager
def exclusive_lock(path: str | Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed, deleted on release); block while another holds it.

    ``on_wait()`` is called once if the lock is busy. The lock is ``flock`` on the file: the kernel releases it
    when its holder dies, even by SIGKILL, so a killed run never blocks the next one. The file is removed on
    release (it leaves nothing behind); a waiter that then holds a lock on the removed file notices that the
    path no longer names the file it locked and locks again.
    """
    import fcntl

    path = Path(path)
    waited = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except OSError as exc:
            raise UserError(f"{path.parent}: cannot create the lock file {path.name} ({exc.strerror or exc})") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None and not waited:
                    on_wait()
                waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)  # the holder we waited for removed this file: lock the path's new file
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1, allow_nan=False)
        fh.write("\n")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None, *, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``.part`` file and checking sha256 while streaming.

    The file appears at ``dest`` only once complete and verified. Network failures raise a
    :class:`UserError` naming the file, the URL and how to use local files instead.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{dest.parent}: cannot create the data folder ({exc.strerror or exc})") from None
    h = hashlib.sha256()
    start = 0
    if part.exists():
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                h.update(block)
        start = part.stat().st_size
    req = urllib.request.Request(url, headers={"User-Agent": "mlir-bench"})
    if start:
        req.add_header("Range", f"bytes={start}-")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            if start and resp.status != 206:  # server ignored Range: start over
                h = hashlib.sha256()
                start = 0
            with open(part, "ab" if start else "wb") as out:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    h.update(block)
                    out.write(block)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"{dest.name} is missing and could not be downloaded from {url} ({reason}); "
            f"place the file at {dest} or point --data-dir / MLIR_BENCH_DATA at a folder that has it"
        ) from None
    digest = h.hexdigest()
    if sha256 and digest != sha256:
        part.unlink(missing_ok=True)
        raise DataError(dest, f"sha256 of the download from {url} is {digest}, expected {sha256}")
    os.replace(part, dest)
    return dest
