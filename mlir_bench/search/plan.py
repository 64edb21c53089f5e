"""One search plan for every backend: groups of queries, each searched once against the pool and cut into views.

A task's cells that share their queries (Mono, Cross and Multi cells of one query language) share one pass over
the pool: a :class:`QueryGroup` holds the query rows, their relevant documents and one view (a subset of document
positions) per cell. :func:`run_plan` hands every group to a :class:`Backend`, which knows where the document
vectors are:

- :class:`InMemory`: the pool's vectors in memory (dense or sparse), optionally memoised per group in a
  :class:`~.checkpoint.SearchCheckpoint` so a re-run or resumed run searches only the groups not done yet;
- :class:`Sharded`: a :class:`~.sharded.ShardedStore` on disk, streamed shard by shard (pools beyond memory).

Both return the same exact results (ties broken by document id, descending, as trec_eval). Approximate search
(faiss) is measured against these exact results (:mod:`.faiss_index`), never used for scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .base import SearchResult
from .exact import exact_search


@dataclass(frozen=True)
class QueryGroup:
    """Query rows searched together: ``relevant`` (padded with -1) and one document view per cell key."""

    query_idx: np.ndarray
    relevant: np.ndarray
    views: Mapping[str, np.ndarray]


class Backend(Protocol):
    """Searches one group of queries against the pool it holds."""

    def search(self, q: Any, *, k: int, relevant: np.ndarray,
               views: Mapping[str, np.ndarray]) -> dict[str, SearchResult]: ...


class InMemory:
    """The pool's vectors in memory; ``doc_order`` breaks ties; ``checkpoint`` memoises finished groups."""

    def __init__(self, doc_vectors: Any, doc_order: np.ndarray, checkpoint: Any = None) -> None:
        self.dv = doc_vectors
        self.order = doc_order
        self.checkpoint = checkpoint
        self._digests: tuple[str, str] | None = None

    def search(self, q: Any, *, k: int, relevant: np.ndarray,
               views: Mapping[str, np.ndarray]) -> dict[str, SearchResult]:
        if self.checkpoint is None:
            return exact_search(q, self.dv, k=k, relevant=relevant, views=views, doc_order=self.order)
        from .checkpoint import matrix_digest, search_digest

        if self._digests is None:
            self._digests = (matrix_digest(self.dv), matrix_digest(self.order))
        key = search_digest(matrix_digest(q), self._digests[0], k=k, relevant=relevant, views=views,
                            order_digest=self._digests[1])
        found = self.checkpoint.load(key)
        if found is None or set(found) != set(views):
            found = exact_search(q, self.dv, k=k, relevant=relevant, views=views, doc_order=self.order)
            self.checkpoint.save(key, found)
        return found


class Sharded:
    """A shard store on disk, streamed once per group (peak memory: one shard and one block of scores)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def search(self, q: Any, *, k: int, relevant: np.ndarray,
               views: Mapping[str, np.ndarray]) -> dict[str, SearchResult]:
        from .sharded import sharded_search

        return sharded_search(np.asarray(q), self.store, k=k, relevant=relevant, views=views)


def run_plan(groups: Sequence[QueryGroup], query_vectors: Any, backend: Backend, *, k: int
             ) -> dict[str, SearchResult]:
    """Search every group with ``backend``; the results of all views, keyed as the groups name them."""
    out: dict[str, SearchResult] = {}
    for g in groups:
        out.update(backend.search(query_vectors[g.query_idx], k=k, relevant=g.relevant, views=g.views))
    return out
