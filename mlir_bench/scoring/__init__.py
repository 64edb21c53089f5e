"""Scoring: standard retrieval metrics, language-bias statistics and embedding geometry, over arrays."""
