"""The static leaderboard: result JSON -> one self-contained HTML page (``mlir-bench leaderboard``).

- :mod:`.load`: result files, their per-query sidecars, grouping into task conditions;
- :mod:`.significance`: paired tests between models, Holm's correction, rank intervals;
- :mod:`.views`: one view per (task, setting) with tables, heatmaps and the alignment–uniformity scatter;
- :mod:`.meta`: model metadata, manifests, the reproduction table; :mod:`.zero_shot`: the "not zero-shot" flag;
- :mod:`.svg`: inline figures; :mod:`.render`: jinja2 templates to ``index.html``.
"""

from __future__ import annotations

from .render import build_leaderboard

__all__ = ["build_leaderboard"]
