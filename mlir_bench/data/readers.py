"""Line readers for plain, gzip (``.gz``) and Zstandard (``.zst``/``.zstd``) text files, with clean errors.

Every problem (missing or unreadable file, not compressed as its suffix says, corrupt or truncated
compressed stream, text that is not UTF-8, a JSON line that is not an object) is a one-line
:class:`~mlir_bench.errors.DataError` naming the file and the line or byte, never a stray ``OSError``,
``EOFError``, ``zlib.error`` or ``ZstdError``.

A truncated ``.zst`` file is detected (the frame never ends), although ``zstandard``'s stream reader would
silently return the decompressed prefix; a truncated ``.gz`` file is detected by its missing trailer.
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError

CHUNK = 1 << 20
GZ_SUFFIXES = (".gz", ".gzip")
ZST_SUFFIXES = (".zst", ".zstd")


def compression_of(path: str | Path) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"``, from the file name's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in GZ_SUFFIXES:
        return "gzip"
    if suffix in ZST_SUFFIXES:
        return "zstd"
    return "none"


def iter_bytes(path: str | Path) -> Iterator[bytes]:
    """The decompressed content of ``path`` in chunks; any read or decompression problem is a DataError."""
    path = Path(path)
    kind = compression_of(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    with fh:
        if kind == "gzip":
            yield from _gzip_chunks(path, fh)
        elif kind == "zstd":
            yield from _zstd_chunks(path, fh)
        else:
            try:
                yield from iter(lambda: fh.read(CHUNK), b"")
            except OSError as exc:
                raise DataError(path, f"cannot read ({exc.strerror or exc})") from None


def _gzip_chunks(path: Path, fh: Any) -> Iterator[bytes]:
    if not fh.read(1):
        raise DataError(path, "file is empty, expected a gzip stream")
    fh.seek(0)
    gz = gzip.GzipFile(fileobj=fh, mode="rb")
    try:
        yield from iter(lambda: gz.read(CHUNK), b"")
    except gzip.BadGzipFile as exc:
        raise DataError(path, f"not a valid gzip file ({exc}), expected gzip-compressed text") from None
    except EOFError:
        raise DataError(path, f"gzip stream is truncated (ends after {fh.tell()} bytes), expected a complete "
                        "file; download it again") from None
    except zlib.error as exc:
        raise DataError(path, f"gzip data is corrupt ({exc}), expected a valid deflate stream") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None


def _zstd_chunks(path: Path, fh: Any) -> Iterator[bytes]:
    try:
        import zstandard
    except ImportError:
        raise DataError(path, "reading .zst files needs the zstandard package (pip install zstandard)") from None
    dctx = zstandard.ZstdDecompressor()
    dobj = dctx.decompressobj()
    n_in = 0
    started = False
    try:
        for raw in iter(lambda: fh.read(CHUNK), b""):
            n_in += len(raw)
            started = True
            out = dobj.decompress(raw)
            while dobj.eof and dobj.unused_data:  # concatenated frames
                rest = dobj.unused_data
                dobj = dctx.decompressobj()
                out += dobj.decompress(rest)
            if out:
                yield out
    except zstandard.ZstdError as exc:
        raise DataError(path, f"zstd data is corrupt ({exc}), expected a valid Zstandard stream",
                        where=f"near byte {n_in}") from None
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    if not started:
        raise DataError(path, "file is empty, expected a Zstandard frame")
    if not dobj.eof:
        raise DataError(path, f"zstd stream is truncated (the last frame does not end; {n_in} bytes read), "
                        "expected a complete file; download it again")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line without its newline)`` for every line of a UTF-8 text file (1-based numbers)."""
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    buf = ""
    n = 0
    n_bytes = 0
    final = False
    chunks = iter_bytes(path)
    while not final:
        raw = next(chunks, None)
        final = raw is None
        try:
            buf += decoder.decode(raw or b"", final=final)
        except UnicodeDecodeError as exc:
            line = n + buf.count("\n") + (raw or b"")[: exc.start].count(b"\n") + 1
            raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {n_bytes + exc.start}), expected UTF-8",
                            where=f"line {line}") from None
        n_bytes += len(raw or b"")
        *lines, buf = buf.split("\n")
        for line in lines:
            n += 1
            yield n, line.removesuffix("\r")
    if buf:
        yield n + 1, buf.removesuffix("\r")


def read_text(path: str | Path) -> str:
    """The whole decoded text of a plain, .gz or .zst file."""
    return "\n".join(line for _, line in iter_lines(path))


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line of a JSON-lines file (plain, .gz or .zst)."""
    path = Path(path)
    for n, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON ({exc.msg} at column {exc.colno}), expected one JSON object "
                            "per line", where=f"line {n}") from None
        except RecursionError:
            raise DataError(path, "JSON nested too deeply, expected one JSON object per line",
                            where=f"line {n}") from None
        if not isinstance(obj, dict):
            raise DataError(path, f"found a JSON {type(obj).__name__}, expected a JSON object", where=f"line {n}")
        yield n, obj
