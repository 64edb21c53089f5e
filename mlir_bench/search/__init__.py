"""Search: exact top-k and full-ranking ranks of relevant documents, over arrays only."""

from __future__ import annotations

from .base import SearchResult
from .exact import doc_id_order, exact_search, pad_relevant, sort_keys

__all__ = ["SearchResult", "doc_id_order", "exact_search", "pad_relevant", "sort_keys"]
