"""The transforms themselves, on arrays: fit on estimation vectors, apply to a task's vectors (no model, no task).

Vectors are L2-normalised rows; every transform L2-normalises its output again, so scores stay cosines as for every
other model. ``role`` is "query" or "document"; languages are ISO 639-1 codes, one per row.

- **center** (Libovický, Rosa, Fraser 2020, "On the language neutrality of pre-trained multilingual
  representations", Findings of EMNLP): ``x - mu[role][lang(x)]``, the mean of that language's estimation vectors
  in that role.
- **shift** (SHIFT, Jang, Hong, Moon, Lim 2026, arXiv 2606.18801): ``x - (mu[role][lang(x)] - mu[role]["en"])``,
  the relative language vector with respect to English, applied to documents at indexing time (``both``: queries
  too). English vectors are unchanged.
- **lir:K** (Language Information Removal, Yang, Yang, Cer, Darve 2021, EMNLP, arXiv 2109.04727): for each language
  the matrix factorised is the (d x n_l) matrix whose columns are that language's estimation embeddings, in the
  query role, not centred (as the authors' code does: ``np.linalg.svd(emb.T)`` on question-encoder embeddings of
  monolingual text); its top K left singular vectors ``C_l`` (d x K) span the language's identity subspace, and
  every vector of that language, query or document, becomes ``x - C_l C_l^T x``.
- **procrustes**: per language l != en and per role, the orthogonal ``W_l = argmin ||X_l W - X_en||_F`` over
  parallel pairs (the closed form ``U V^T`` of the SVD ``X_l^T X_en = U S V^T``; Schönemann 1966), applied to both
  queries and documents of language l: ``x W_l``. English is the identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError

ROLES = ("query", "document")


@dataclass(frozen=True)
class Estimation:
    """Estimation vectors per role, with the language (and, for parallel data, the group) of every row."""

    vectors: dict[str, np.ndarray]
    langs: dict[str, np.ndarray]
    groups: dict[str, np.ndarray | None] = field(default_factory=dict)

    def of(self, role: str, lang: str) -> np.ndarray:
        return self.vectors[role][self.langs[role] == lang]


def roles_needed(method: str, param: str | None) -> tuple[str, ...]:
    """The roles whose estimation vectors a method reads."""
    if method == "lir":
        return ("query",)
    if method == "shift" and param != "both":
        return ("document",)
    return ROLES


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n == 0, 1.0, n)).astype(np.float32)


@dataclass
class FittedTransform:
    """A fitted transform: per role and language, an offset to subtract, a basis to project out, or a map."""

    method: str
    offsets: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # center, shift
    bases: dict[str, np.ndarray] = field(default_factory=dict)  # lir: lang -> (d, K)
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # procrustes: role -> lang -> (d, d)
    roles: tuple[str, ...] = ROLES  # roles the transform changes
    skipped: list[str] = field(default_factory=list)  # languages left untransformed (skip-missing)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # estimation rows per role and language

    def apply(self, x: np.ndarray, langs: Iterable[str], role: str) -> np.ndarray:
        """The transformed, renormalised rows of ``x`` (languages ``langs``, role ``role``)."""
        x = np.asarray(x, dtype=np.float32)
        langs = np.asarray(list(langs))
        if role not in self.roles:
            return x
        out = x.astype(np.float64, copy=True)
        for lang in np.unique(langs):
            rows = langs == lang
            lang = str(lang)
            if self.method in ("center", "shift"):
                off = self.offsets.get(role, {}).get(lang)
                if off is not None:
                    out[rows] -= off
            elif self.method == "lir":
                basis = self.bases.get(lang)
                if basis is not None:
                    out[rows] -= (out[rows] @ basis) @ basis.T
            elif self.method == "procrustes":
                w = self.maps.get(role, {}).get(lang)
                if w is not None:
                    out[rows] = out[rows] @ w
        return _normalise(out)

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "roles_changed": list(self.roles), "skipped_languages": self.skipped,
                "estimation_rows": self.counts}


def _missing(wanted: dict[str, set[str]], est: Estimation, skip: bool, what: str, source: str) -> set[str]:
    """Languages of ``wanted[role]`` with no estimation rows; a UserError unless ``skip``."""
    gone: set[str] = set()
    for role, langs in wanted.items():
        have = set(np.unique(est.langs[role]).tolist()) if role in est.langs else set()
        gone |= {lang for lang in langs if lang not in have}
    if gone and not skip:
        raise UserError(f"transform {what}: no estimation text in {source} for language(s) "
                        f"{', '.join(sorted(gone))}; use another source, or add ':skip-missing' to leave them "
                        "untransformed")
    return gone


def fit(method: str, param: str | None, est: Estimation, languages: dict[str, set[str]], *, source: str,
        skip_missing: bool = False, name: str = "") -> FittedTransform:
    """Fit ``method`` on ``est`` for the languages each role will see (``languages[role]``)."""
    what = name or method
    counts = {r: {str(lang): int(n) for lang, n in zip(*np.unique(est.langs[r], return_counts=True), strict=True)}
              for r in est.langs}
    if method == "center":
        gone = _missing(languages, est, skip_missing, what, source)
        offsets = {r: {lang: est.of(r, lang).astype(np.float64).mean(axis=0) for lang in languages[r] - gone}
                   for r in ROLES}
        return FittedTransform("center", offsets=offsets, skipped=sorted(gone), counts=counts)
    if method == "shift":
        roles = ("document",) if param != "both" else ROLES
        wanted = {r: languages[r] | {"en"} for r in roles}
        gone = _missing(wanted, est, skip_missing, what, source)
        if "en" in gone:
            raise UserError(f"transform {what}: shift is relative to English, and {source} has no English text")
        offsets = {}
        for r in roles:
            en = est.of(r, "en").astype(np.float64).mean(axis=0)
            offsets[r] = {lang: est.of(r, lang).astype(np.float64).mean(axis=0) - en for lang in wanted[r] - gone}
        return FittedTransform("shift", offsets=offsets, roles=roles, skipped=sorted(gone), counts=counts)
    if method == "lir":
        k = int(param or 0)
        all_langs = languages["query"] | languages["document"]
        gone = _missing({"query": all_langs}, est, skip_missing, what, source)
        bases = {}
        for lang in sorted(all_langs - gone):
            x = est.of("query", lang).astype(np.float64)
            if len(x) < k:
                raise UserError(f"transform {what}: {len(x)} estimation text(s) in {lang}, fewer than the {k} "
                                "directions to remove")
            _, _, vt = np.linalg.svd(x, full_matrices=False)  # rows of vt = left singular vectors of x.T
            bases[lang] = vt[:k].T
        return FittedTransform("lir", bases=bases, skipped=sorted(gone), counts=counts)
    if method == "procrustes":
        wanted = {r: languages[r] | {"en"} for r in ROLES}
        gone = _missing(wanted, est, skip_missing, what, source)
        if "en" in gone:
            raise UserError(f"transform {what}: procrustes maps onto English, and {source} has no English text")
        maps: dict[str, dict[str, np.ndarray]] = {}
        for r in ROLES:
            groups = est.groups.get(r)
            if groups is None:
                raise UserError(f"transform {what}: procrustes needs parallel pairs; {source} has no groups")
            maps[r] = {}
            for lang in sorted(wanted[r] - gone - {"en"}):
                a, b = _pairs(est, r, lang, groups)
                if len(a) == 0:
                    raise UserError(f"transform {what}: no {lang}-en translation pair in {source}")
                u, _, vt = np.linalg.svd(a.T @ b)
                maps[r][lang] = u @ vt
        return FittedTransform("procrustes", maps=maps, skipped=sorted(gone), counts=counts)
    raise UserError(f"unknown transform method {method!r}")


def _pairs(est: Estimation, role: str, lang: str, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (x_lang, x_en) of the groups that have both languages (the first row of each per group)."""
    langs = est.langs[role]
    first: dict[tuple[str, str], int] = {}
    for i, (g, lg) in enumerate(zip(groups.tolist(), langs.tolist(), strict=True)):
        if lg in (lang, "en"):
            first.setdefault((str(g), str(lg)), i)
    both = [g for (g, lg) in first if lg == lang and (g, "en") in first]
    a = est.vectors[role][[first[(g, lang)] for g in both]].astype(np.float64)
    b = est.vectors[role][[first[(g, "en")] for g in both]].astype(np.float64)
    return a, b
