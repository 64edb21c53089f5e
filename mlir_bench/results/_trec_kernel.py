"""Compiled assembly of TREC run lines (see :func:`mlir_bench.results.trec.write_trec_run`)."""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def _put_int(out, pos, v):  # pragma: no cover - compiled
    """Write the decimal digits of v >= 0 at out[pos:], return the new position."""
    if v == 0:
        out[pos] = 48
        return pos + 1
    n = 0
    t = v
    while t > 0:
        n += 1
        t //= 10
    for j in range(n - 1, -1, -1):
        out[pos + j] = 48 + v % 10
        v //= 10
    return pos + n


@numba.njit(cache=True, nogil=True)
def assemble(qbuf, qoff, dbuf, doff, top, micro, neg, tag, out):  # pragma: no cover - compiled
    """``qid Q0 docid rank score<tag>`` per valid (row, column) of ``top``; returns the bytes written.

    ``micro`` is |score| in millionths (already rounded), ``neg`` its sign, ``tag`` holds " <tag>\\n".
    """
    pos = 0
    n_q, k = top.shape
    for i in range(n_q):
        rank = 0
        for j in range(k):
            d = top[i, j]
            if d < 0:
                continue
            rank += 1
            for t in range(qoff[i], qoff[i + 1]):
                out[pos] = qbuf[t]
                pos += 1
            out[pos] = 32  # " Q0 "
            out[pos + 1] = 81
            out[pos + 2] = 48
            out[pos + 3] = 32
            pos += 4
            for t in range(doff[d], doff[d + 1]):
                out[pos] = dbuf[t]
                pos += 1
            out[pos] = 32
            pos = _put_int(out, pos + 1, rank)
            out[pos] = 32
            pos += 1
            if neg[i, j]:
                out[pos] = 45  # "-"
                pos += 1
            v = micro[i, j]
            pos = _put_int(out, pos, v // 1000000)
            out[pos] = 46  # "."
            pos += 1
            f = v % 1000000
            for t in range(5, -1, -1):
                out[pos + t] = 48 + f % 10
                f //= 10
            pos += 6
            for t in range(tag.shape[0]):
                out[pos] = tag[t]
                pos += 1
    return pos
