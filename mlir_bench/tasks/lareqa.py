"""XQuAD-R and MLQA-R, built as LAReQA builds them (Roy et al. 2020; docs/PROTOCOLS.md §1, §2.1, §2.2).

- Candidates: every sentence of every paragraph in every language. Id ``{lang}/{article}.{paragraph}.{sentence}``
  (0-based positions in file order).
- Queries: every question of every language. Id ``{lang}/{question_id}``; its group is the question id, which
  is shared by the parallel versions of a question.
- Relevant: for question id q, the answer sentence of q in every language where q exists.
- Candidate text: ``sentence`` (default) or ``sentence+context``, the sentence followed by a space and its
  whole paragraph (LAReQA's answer encoder saw both; single-text encoders need one string).
- Cells: Mono (X against X), Cross (X against Y, Y != X) and Multi (X against the pool of all languages).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.fetch import data_root, ensure_file
from ..data.lareqa import read_lareqa
from ..errors import DataError, UserError
from .base import Cell, Corpus, TaskData
from .spec import TaskSpec

TEXT_MODES = ("sentence", "sentence+context")


def build(
    spec: TaskSpec,
    *,
    data_dir: str | Path | None = None,
    text_mode: str = "sentence",
    languages: list[str] | None = None,
    verify: bool = True,
) -> TaskData:
    """Load every language file of ``spec`` and build queries, pool, qrels and the Mono/Cross/Multi cells."""
    if text_mode not in TEXT_MODES:
        raise UserError(f"candidate text mode {text_mode!r} is unknown; expected one of {', '.join(TEXT_MODES)}")
    langs = list(spec.languages)
    if languages:
        unknown = [x for x in languages if x not in langs]
        if unknown:
            raise UserError(f"task {spec.name} has no language(s) {unknown}; it has {', '.join(langs)}")
        langs = [x for x in langs if x in languages]
    root = data_root(data_dir)
    q_ids: list[str] = []
    q_langs: list[str] = []
    q_texts: list[str] = []
    q_groups: list[str] = []
    d_ids: list[str] = []
    d_langs: list[str] = []
    d_texts: list[str] = []
    answer_of: dict[str, list[str]] = {}  # question id -> relevant candidate ids (one per language)
    hashes: dict[str, str] = {}
    by_lang = {f.lang: f for f in spec.source.files}
    for lang in langs:
        if lang not in by_lang:
            raise DataError(f"tasks/{spec.name}.toml", f"no source file for language {lang!r}")
        sf = by_lang[lang]
        path = ensure_file(root, sf.path, spec.source.url_for(sf), sf.sha256, verify=verify)
        if sf.sha256:
            hashes[sf.path] = sf.sha256
        parsed = read_lareqa(path)
        n_cand = len(parsed.sentences)
        n_q = len(parsed.questions)
        exp_c = spec.expected.candidates.get(lang)
        exp_q = spec.expected.questions.get(lang)
        if exp_c is not None and n_cand != exp_c:
            raise DataError(path, f"{n_cand} candidate sentences, expected {exp_c} (published count)")
        if exp_q is not None and n_q != exp_q:
            raise DataError(path, f"{n_q} questions, expected {exp_q} (published count)")
        for s in parsed.sentences:
            d_ids.append(f"{lang}/{s.article}.{s.paragraph}.{s.index}")
            d_langs.append(lang)
            d_texts.append(s.text if text_mode == "sentence" else f"{s.text} {s.context}")
        for q in parsed.questions:
            q_ids.append(f"{lang}/{q.qid}")
            q_langs.append(lang)
            q_texts.append(q.text)
            q_groups.append(q.qid)
            answer_of.setdefault(q.qid, []).append(f"{lang}/{q.article}.{q.paragraph}.{q.answer_sentence}")
    if languages is None and spec.expected.pool is not None and len(d_ids) != spec.expected.pool:
        raise DataError(spec.name, f"pool has {len(d_ids)} candidates, expected {spec.expected.pool}")
    qrels = {qid: dict.fromkeys(answer_of[g], 1) for qid, g in zip(q_ids, q_groups, strict=True)}
    queries = Corpus(q_ids, q_langs, q_texts, q_groups)
    docs = Corpus(d_ids, d_langs, d_texts)
    return TaskData(spec, queries, docs, qrels, lareqa_cells(queries, docs, langs), hashes,
                    {"text_mode": text_mode, "languages": langs})


def lareqa_cells(queries: Corpus, docs: Corpus, langs: list[str]) -> list[Cell]:
    """Mono (one per language), Cross (every ordered pair X != Y) and Multi (one per query language)."""
    ql = queries.lang_array()
    dl = docs.lang_array()
    q_by = {x: np.flatnonzero(ql == x) for x in langs}
    d_by = {x: np.flatnonzero(dl == x) for x in langs}
    all_docs = np.arange(len(docs))
    cells = [Cell("mono", x, x, (x,), q_by[x], d_by[x]) for x in langs]
    cells += [Cell("cross", f"{x}-{y}", x, (y,), q_by[x], d_by[y]) for x in langs for y in langs if x != y]
    cells += [Cell("multi", x, x, tuple(langs), q_by[x], all_docs) for x in langs]
    return cells
