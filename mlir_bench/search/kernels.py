"""Compiled inner loops of exact search (numba), with a pure-numpy fallback of identical results."""

from __future__ import annotations

import numpy as np

try:  # numba ships with ranx, a core dependency; the fallback keeps search usable without it
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _count_greater_numba(keys, cols, rkeys, out):  # pragma: no cover - compiled
        n, r = rkeys.shape
        for i in numba.prange(n):
            rk = np.sort(rkeys[i])
            lo = rk[0]
            cnt = np.zeros(r + 1, dtype=np.int64)
            for c in cols:
                v = keys[i, c]
                if v <= lo:
                    continue
                j = 1
                while j < r and v > rk[j]:
                    j += 1
                cnt[j] += 1  # v exceeds rk[0..j-1]
            # counts[j] docs exceed exactly the j smallest rel keys -> greater(rk[t]) = sum_{j > t} cnt[j]
            acc = 0
            res = np.zeros(r, dtype=np.int64)
            for t in range(r - 1, -1, -1):
                acc += cnt[t + 1]
                res[t] = acc
            # map back to the original (unsorted) rel order
            for a in range(r):
                for t in range(r):
                    if rkeys[i, a] == rk[t]:
                        out[i, a] += res[t]
                        break

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _sort_keys_numba(bits, order, out):  # pragma: no cover - compiled
        n, m = bits.shape
        for i in numba.prange(n):
            for j in range(m):
                b = np.uint64(bits[i, j])
                if b & np.uint64(0x80000000):
                    b = np.uint64(0xFFFFFFFF) - b
                else:
                    b = b | np.uint64(0x80000000)
                out[i, j] = (b << np.uint64(32)) | order[j]

    @numba.njit(cache=True, inline="always")
    def _sift_down(hk, hi, pos, k):  # pragma: no cover - compiled
        while True:
            left = 2 * pos + 1
            if left >= k:
                break
            small = left
            if left + 1 < k and hk[left + 1] < hk[left]:
                small = left + 1
            if hk[small] < hk[pos]:
                hk[small], hk[pos] = hk[pos], hk[small]
                hi[small], hi[pos] = hi[pos], hi[small]
                pos = small
            else:
                break

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _topk_numba(keys, cols, k, base, out_keys, out_idx):  # pragma: no cover - compiled
        n = keys.shape[0]
        for i in numba.prange(n):
            hk = np.empty(k, dtype=np.uint64)
            hi = np.empty(k, dtype=np.int64)
            for t in range(k):
                hk[t] = keys[i, cols[t]]
                hi[t] = cols[t] + base
            for t in range(k // 2 - 1, -1, -1):
                _sift_down(hk, hi, t, k)
            for t in range(k, cols.shape[0]):
                v = keys[i, cols[t]]
                if v > hk[0]:
                    hk[0] = v
                    hi[0] = cols[t] + base
                    _sift_down(hk, hi, 0, k)
            o = np.argsort(hk)[::-1]
            for t in range(k):
                out_keys[i, t] = hk[o[t]]
                out_idx[i, t] = hi[o[t]]

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def count_greater(keys: np.ndarray, cols: np.ndarray, rkeys: np.ndarray, out: np.ndarray) -> None:
    """out[i, a] += #{c in cols : keys[i, c] > rkeys[i, a]}  (keys are unique per row: id order breaks ties)."""
    if HAVE_NUMBA:
        _count_greater_numba(keys, np.ascontiguousarray(cols, dtype=np.int64), np.ascontiguousarray(rkeys), out)
        return
    vk = keys[:, cols]
    for a in range(rkeys.shape[1]):
        out[:, a] += np.count_nonzero(vk > rkeys[:, a : a + 1], axis=1)


def sort_keys_2d(scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """uint64 keys of a (rows, cols) float32 block; ``order`` is the id order of the columns."""
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    out = np.empty(scores.shape, dtype=np.uint64)
    if HAVE_NUMBA:
        _sort_keys_numba(scores.view(np.uint32), np.ascontiguousarray(order, dtype=np.uint64), out)
        return out
    bits = scores.view(np.uint32).astype(np.uint64)
    neg = (bits & np.uint64(0x80000000)) != 0
    bits = np.where(neg, np.uint64(0xFFFFFFFF) - bits, bits | np.uint64(0x80000000))
    out[...] = (bits << np.uint64(32)) | order[None, :]
    return out


def topk_keys(keys: np.ndarray, cols: np.ndarray, k: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k largest keys among ``cols`` (best first) and their positions ``cols + base``."""
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    k = min(k, cols.size)
    if HAVE_NUMBA:
        ok = np.empty((keys.shape[0], k), dtype=np.uint64)
        oi = np.empty((keys.shape[0], k), dtype=np.int64)
        _topk_numba(keys, cols, k, base, ok, oi)
        return ok, oi
    vk = keys[:, cols]
    part = np.argpartition(vk, vk.shape[1] - k, axis=1)[:, -k:] if vk.shape[1] > k else np.argsort(vk, axis=1)
    ck = np.take_along_axis(vk, part, axis=1)
    o = np.argsort(ck, axis=1)[:, ::-1]
    return np.take_along_axis(ck, o, axis=1), (cols + base)[np.take_along_axis(part, o, axis=1)]
