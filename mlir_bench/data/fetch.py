"""Where data files live, and how a missing one is fetched.

The data root is ``--data-dir``, else the ``MLIR_BENCH_DATA`` environment variable, else
``~/.cache/mlir-bench/data``. A file is looked up at ``<root>/<path>``; if absent it is downloaded from its
canonical URL (resumable, sha256-checked while streaming). A present file whose sha256 differs is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..io import default_cache_root, download, sha256_file

ENV_DATA = "MLIR_BENCH_DATA"


def data_root(data_dir: str | Path | None = None) -> Path:
    """Resolve the data root: explicit argument, then $MLIR_BENCH_DATA, then the cache directory."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env)
    return default_cache_root() / "data"


def ensure_file(root: Path, rel_path: str, url: str | None, sha256: str | None, *, verify: bool = True) -> Path:
    """Return the local path of a data file, downloading it if it is missing; verify its sha256."""
    path = root / rel_path
    if not path.exists():
        if not url:
            raise DataError(path, "file is missing and has no download URL; place it there or set --data-dir")
        download(url, path, sha256)
        return path
    if not path.is_file():
        raise DataError(path, "is not a regular file, expected a data file")
    if verify and sha256:
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
        if digest != sha256:
            raise DataError(path, f"sha256 is {digest}, expected {sha256} (a different or corrupt file)")
    return path
