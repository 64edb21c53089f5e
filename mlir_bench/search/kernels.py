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

    @numba.njit(cache=True, inline="always")
    def _select_top(bk, bi, m, kth):  # pragma: no cover - compiled
        """Rearrange bk[:m] (with bi alongside) so that bk[:kth] are its kth largest keys (quickselect)."""
        lo = 0
        hi = m - 1
        target = kth - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            x, y, z = bk[lo], bk[mid], bk[hi]
            if x < y:
                p = y if y < z else (z if x < z else x)
            else:
                p = x if x < z else (z if y < z else y)
            i = lo
            j = hi
            while i <= j:
                while bk[i] > p:
                    i += 1
                while bk[j] < p:
                    j -= 1
                if i <= j:
                    bk[i], bk[j] = bk[j], bk[i]
                    bi[i], bi[j] = bi[j], bi[i]
                    i += 1
                    j -= 1
            if target <= j:
                hi = j
            elif target >= i:
                lo = i
            else:
                break

    @numba.njit(cache=True, inline="always")
    def _key(bits, order):  # pragma: no cover - compiled
        b = np.uint64(bits)
        if b & np.uint64(0x80000000):
            b = np.uint64(0xFFFFFFFF) - b
        else:
            b = b | np.uint64(0x80000000)
        return (b << np.uint64(32)) | order

    @numba.njit(cache=True, inline="always")
    def _bucket(x, mn, scale):  # pragma: no cover - compiled
        return min(np.int32((x - mn) * scale), 255)

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _fused_numba(scores, bits, order, seg_atom, seg_ptr, base, rk, rs, cap, top_k, top_i, top_n,
                     greater):  # pragma: no cover - compiled
        n = bits.shape[0]
        r = rk.shape[1]
        width = top_k.shape[2]
        size = 4 * width + 16
        for i in numba.prange(n):
            bk = np.empty(size, dtype=np.uint64)
            bi = np.empty(size, dtype=np.int64)
            hist = np.zeros(257, dtype=np.int64)
            rel_b = np.empty(r, dtype=np.int64)
            flag = np.zeros(257, dtype=np.bool_)
            for s in range(seg_atom.shape[0]):
                a = seg_atom[s]
                c0 = seg_ptr[2 * s]
                c1 = seg_ptr[2 * s + 1]
                fill = top_n[i, a]
                full = cap[a]
                limit = 4 * full + 16
                m = 0
                for t in range(fill):  # the atom's current top list (from earlier blocks)
                    bk[m] = top_k[i, a, t]
                    bi[m] = top_i[i, a, t]
                    m += 1
                thr = np.uint64(0)
                if fill == full:
                    thr = bk[0]
                    for t in range(1, m):
                        thr = min(thr, bk[t])
                # A 256-bucket histogram of the scores; the bucket is monotone in the score, so a column in a
                # higher bucket than x has a larger key than x and one in a lower bucket a smaller key: only the
                # columns sharing a bucket with the run's cap-th largest or with a relevant key are compared.
                mn = np.float32(np.inf)
                mx = np.float32(-np.inf)
                for c in range(c0, c1):
                    x = scores[i, c]
                    mn = min(mn, x)
                    mx = max(mx, x)
                scale = np.float32(0.0)
                if mx > mn and (mx - mn) < np.inf:
                    scale = np.float32(255.0 / (np.float64(mx) - np.float64(mn)))
                hist[:] = 0
                for c in range(c0, c1):
                    hist[_bucket(scores[i, c], mn, scale)] += 1
                bstar = 0
                acc = 0
                for bb in range(255, -1, -1):
                    acc += hist[bb]
                    if acc >= full:
                        bstar = bb
                        break
                # suffix sums: hist[b] becomes the number of columns in buckets > b
                acc = 0
                for bb in range(255, -1, -1):
                    h = hist[bb]
                    hist[bb] = acc
                    acc += h
                n_flag = 0
                for t in range(r):
                    rel_b[t] = -2
                    if rk[i, t] == 0 or rs[i, t] < mn:  # padding, or below every column of the run
                        greater[i, a, t] += c1 - c0
                    elif rs[i, t] > mx:  # above every column
                        pass
                    else:
                        b = _bucket(rs[i, t], mn, scale)
                        greater[i, a, t] += hist[b]  # the columns in higher buckets
                        rel_b[t] = b
                        if not flag[b]:
                            flag[b] = True
                            n_flag += 1
                for c in range(c0, c1):
                    b = _bucket(scores[i, c], mn, scale)
                    if b < bstar and not flag[b]:
                        continue
                    key = _key(bits[i, c], order[c])
                    if flag[b]:
                        for t in range(r):
                            if rel_b[t] == b and key > rk[i, t]:
                                greater[i, a, t] += 1
                    if b >= bstar and key > thr:
                        bk[m] = key
                        bi[m] = c + base
                        m += 1
                        if m >= limit:  # shrink to the top `full` and raise the bar for what follows
                            _select_top(bk, bi, m, full)
                            m = full
                            thr = bk[0]
                            for t in range(1, m):
                                thr = min(thr, bk[t])
                if n_flag:
                    for t in range(r):
                        if rel_b[t] >= 0:
                            flag[rel_b[t]] = False
                if m > full:
                    _select_top(bk, bi, m, full)
                    m = full
                for t in range(m):
                    top_k[i, a, t] = bk[t]
                    top_i[i, a, t] = bi[t]
                top_n[i, a] = m

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def fused_pass(
    scores: np.ndarray,
    order: np.ndarray,
    atom: np.ndarray,
    base: int,
    rk_sorted: np.ndarray,
    cap: np.ndarray,
    heap_k: np.ndarray,
    heap_i: np.ndarray,
    heap_n: np.ndarray,
    greater: np.ndarray,
) -> None:
    """One pass over a (rows, cols) float32 score block that updates, per row and per atom (a group of columns
    that belong to the same views), the (unordered) list of its ``cap[atom]`` largest sort keys, and
    ``greater[row, atom, t]`` += the number of its columns whose key exceeds ``rk_sorted[row, t]``.

    ``rk_sorted`` (rows, r) holds each row's relevant keys ascending; 0 is padding (every column counts as greater;
    the caller masks it). Column ``c`` of the block is document ``base + c``; ``atom[c] < 0`` skips it. Columns
    should be grouped by atom: for each run of one atom the kernel makes a 256-bucket histogram of the scores,
    then looks at the keys of only the columns that share a bucket with the run's ``cap``-th largest score (or lie
    above it) or with a relevant score; the top ``cap`` are kept by quickselect. Linear time, branch-light.
    State (``heap_*``, ``greater``) carries over between blocks of the same rows.
    """
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    order = np.ascontiguousarray(order, dtype=np.uint64)
    atom = np.ascontiguousarray(atom, dtype=np.int64)
    if HAVE_NUMBA:
        change = np.flatnonzero(np.diff(atom)) + 1
        starts = np.concatenate([[0], change]).astype(np.int64)
        ptr = np.concatenate([starts, [atom.size]]).astype(np.int64)
        seg_atom = atom[starts] if atom.size else np.zeros(0, dtype=np.int64)
        keep = seg_atom >= 0
        seg_ptr = np.stack([ptr[:-1][keep], ptr[1:][keep]], axis=1)
        # runs are contiguous: pass starts and ends as one flat array of boundaries per run
        flat_ptr = np.empty(2 * len(seg_ptr), dtype=np.int64)
        flat_ptr[0::2], flat_ptr[1::2] = seg_ptr[:, 0], seg_ptr[:, 1]
        rs = np.ascontiguousarray(keys_to_scores(rk_sorted))
        _fused_numba(scores, scores.view(np.uint32), order, np.ascontiguousarray(seg_atom[keep]), flat_ptr, base,
                     np.ascontiguousarray(rk_sorted), rs, cap, heap_k, heap_i, heap_n, greater)
        return
    keys = sort_keys_2d(scores, order)  # pure-numpy fallback: the same state updates, vectorised per atom
    for a in range(cap.shape[0]):
        cols = np.flatnonzero(atom == a)
        if cols.size == 0:
            continue
        vk = keys[:, cols]
        for t in range(rk_sorted.shape[1]):
            greater[:, a, t] += np.count_nonzero(vk > rk_sorted[:, t : t + 1], axis=1)
        c_a = int(cap[a])
        allk = np.concatenate([heap_k[:, a, :c_a], vk], axis=1)
        alli = np.concatenate([heap_i[:, a, :c_a], np.broadcast_to(cols + base, vk.shape)], axis=1)
        valid = np.concatenate([np.arange(c_a)[None, :] < heap_n[:, a : a + 1],
                                np.ones(vk.shape, dtype=bool)], axis=1)
        allk = np.where(valid, allk, 0)
        part = np.argsort(allk, axis=1)[:, ::-1][:, :c_a]
        heap_n[:, a] = np.minimum(valid.sum(axis=1), c_a)
        heap_k[:, a, :c_a] = np.take_along_axis(allk, part, axis=1)
        heap_i[:, a, :c_a] = np.take_along_axis(alli, part, axis=1)


def sort_keys(scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """uint64 keys whose descending order is (score desc, id desc). ``scores`` is float32, any shape."""
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32).astype(np.uint64)
    neg = (bits & np.uint64(0x80000000)) != 0
    bits = np.where(neg, np.uint64(0xFFFFFFFF) - bits, bits | np.uint64(0x80000000))
    return (bits << np.uint64(32)) | order


def keys_to_scores(keys: np.ndarray) -> np.ndarray:
    """Invert :func:`sort_keys` for the score part."""
    bits = keys >> np.uint64(32)
    pos = (bits & np.uint64(0x80000000)) != 0
    bits = np.where(pos, bits & np.uint64(0x7FFFFFFF), np.uint64(0xFFFFFFFF) - bits)
    return bits.astype(np.uint32).view(np.float32)


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
    out[...] = sort_keys(scores, np.asarray(order, dtype=np.uint64)[None, :])
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
