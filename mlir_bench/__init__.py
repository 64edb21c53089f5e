"""mlir-bench: evaluation harness for multilingual information retrieval over mixed-language pools."""

from __future__ import annotations

import os
import stat
import sys
import tempfile

__version__ = "0.1.0"


def _writable_dir(path: str) -> bool:
    """Whether ``path`` is (or can be made) a folder we can create files in: numba's own test of a cache folder."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _private_dir(path: str) -> bool:
    """Create ``path`` (mode 0700) or accept it if it exists, is ours and nobody else can write it.

    numba's cache holds pickled code that it loads back, so a fallback folder in a shared temporary directory
    must not be one another user created (or can write).
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    ours = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return ours and stat.S_ISDIR(st.st_mode) and not st.st_mode & 0o022 and _writable_dir(path)


def _numba_cache_fallback() -> str | None:
    """Set ``NUMBA_CACHE_DIR`` when numba would find no writable cache folder; return the folder set, or None.

    The compiled kernels (``search/kernels.py``, ``results/_trec_kernel.py``) use ``@numba.njit(cache=True)``.
    numba stores their machine code in the ``__pycache__`` beside the source file, else in the user-wide cache
    (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``); when neither is writable (an installed package and a user
    without a writable home: a container, a batch job) it refuses to decorate the function and every run dies on
    import. Then this picks ``$MLIR_BENCH_CACHE/numba`` if that is set and writable, else a private folder in the
    temporary directory. Runs once, when mlir_bench is imported, before numba is (an explicit
    ``NUMBA_CACHE_DIR`` is always kept).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    in_tree = [os.path.join(here, sub, "__pycache__") for sub in ("search", "results")]
    if all(_writable_dir(d) for d in in_tree):
        return None
    user_wide = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numba")
    if os.path.isabs(user_wide) and _writable_dir(user_wide):
        return None
    candidates = []
    if os.environ.get("MLIR_BENCH_CACHE"):  # io.ENV_CACHE (not imported here: this module must stay light)
        candidates.append(os.path.join(os.environ["MLIR_BENCH_CACHE"], "numba"))
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(os.path.join(tempfile.gettempdir(), f"mlir-bench-numba-{uid}"))
    for path in candidates:
        if _private_dir(path):
            os.environ["NUMBA_CACHE_DIR"] = path
            config = sys.modules.get("numba.core.config")  # numba imported first: it has read the variable
            if config is not None:
                config.CACHE_DIR = path
            return path
    return None  # nowhere to write: numba will say so


_numba_cache_fallback()
