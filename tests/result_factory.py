"""A minimal valid result (the current schema) for tests that need result files but no run."""

from __future__ import annotations

from typing import Any

from mlir_bench.results.schema import SCHEMA_VERSION


def make_result(task: str, model: str, cells: dict[str, dict[str, Any]], *, languages: list[str] | None = None,
                metrics: tuple[str, ...] = ("map",)) -> dict[str, Any]:
    """A result dict with ``cells`` (each at least ``setting`` and ``name``), counts and scores filled in."""
    full: dict[str, Any] = {}
    for key, c in cells.items():
        full[key] = {"query_lang": c["name"].split("-")[0], "doc_langs": [c["name"]], "n_queries": 1,
                     "n_evaluated": 1, "n_skipped": 0, "n_documents": 1, "scores": {m: None for m in metrics}, **c}
    settings = {c["setting"]: {"n_cells": 1, "n_queries": 1, "n_skipped": 0, "scores": {m: None for m in metrics}}
                for c in full.values()}
    langs = languages or ["de", "en"]
    return {
        "schema_version": SCHEMA_VERSION,
        "identity": {"task": task, "spec_digest": "0" * 64, "dataset_sha256": {}, "text_mode": "sentence",
                     "languages": None, "model": {"name": model, "revision": "1"}, "k": 100,
                     "metrics": list(metrics), "bias": False},
        "task": {"name": task, "family": "lareqa", "level": "sentence", "languages": langs, "license": "-",
                 "citation": "-", "text_mode": "sentence", "n_queries": 1, "n_documents": 1},
        "model": {"name": model, "revision": "1"},
        "main_score": {"metric": metrics[0], "setting": "multi", "value": None},
        "metrics": list(metrics), "k": 100, "settings": settings, "cells": full,
        "manifest": {"created": "2026-01-01T00:00:00+00:00"},
    }
