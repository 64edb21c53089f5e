"""Passage-level MLIR as MIMO evaluates it ("MMLIR"; docs/PROTOCOLS.md §2.3), built as SHIFT's
``build_benchmarks.py`` builds it with ``--multilingual_queries``.

One pool holds every language version of the context paragraphs; queries come in every language; each query's
relevant set is its gold paragraph in every language where it exists (binary qrels). The spec option ``source``
selects the construction:

- ``xquad-r``: XQuAD-R paragraphs (``context``) in 8 languages, ids ``{lang}/{article}.{paragraph}`` (positions in
  file order, as SHIFT's ``{lang}_{data_idx}_{para_idx}``). The 8 files are checked to be parallel (same
  articles, paragraphs and question ids in the same positions). Queries ``{lang}/{question_id}``, group = the
  question id; relevant = every paragraph that holds the question id (8 per query).
- ``mlqa``: every ``{split}-context-C-question-Q.json`` of the 7x7 MLQA files. A context is one passage, identified by
  its exact text over all files (SHIFT dedups by md5 of the context); its language is the context language of
  the first file holding it, in SHIFT's order (C, then Q, over ar de en es hi vi zh). Three dev contexts occur
  verbatim under two context languages (bibliographic lines) and so belong to ``ar``, as in SHIFT. Id
  ``{lang}/{sha1(context)[:16]}``. Queries: one per (MLQA id, question language), id ``{Q}/{mlqa_id}``, group =
  the MLQA id; relevant = every passage that was a context of that id (2-4). ``split`` is ``dev`` (offline here)
  or ``test`` (MIMO's; downloaded from the MLQA release).
- ``belebele``: ``facebook/belebele`` in 14 languages (download only). Questions are identified by
  (link, question_number), anchored on English; passages are deduplicated by exact text; relevant = the question's
  passage in every language.

Cells: ``multi`` (each query language against the whole pool; macro-average = the MIMO-style headline, nDCG@20),
``mono`` (each language's queries against its own paragraphs) and ``all`` (one cell with every query: the
micro-average over queries, which is what a single pooled evaluation such as MIMO's reports when query counts
differ across languages).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..data.belebele import CONFIGS as BELEBELE_CONFIGS
from ..data.belebele import read_belebele
from ..data.fetch import data_root, ensure_file
from ..data.squad import read_squad
from ..errors import DataError, UserError
from ..io import atomic_open
from .base import Cell, Corpus, TaskData
from .spec import TaskSpec

TEXT_MODES = ("passage",)
MLQA_URL = "https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip"  # the MLQA v1 release; no published sha256


class _Builder:
    """Accumulates queries, passages and qrels with explicit languages."""

    def __init__(self) -> None:
        self.q_ids: list[str] = []
        self.q_langs: list[str] = []
        self.q_texts: list[str] = []
        self.q_groups: list[str] = []
        self.d_ids: list[str] = []
        self.d_langs: list[str] = []
        self.d_texts: list[str] = []
        self.rel_of_group: dict[str, list[str]] = defaultdict(list)

    def doc(self, doc_id: str, lang: str, text: str) -> None:
        self.d_ids.append(doc_id)
        self.d_langs.append(lang)
        self.d_texts.append(text)

    def query(self, qid: str, lang: str, text: str, group: str) -> None:
        self.q_ids.append(qid)
        self.q_langs.append(lang)
        self.q_texts.append(text)
        self.q_groups.append(group)

    def relevant(self, group: str, doc_id: str) -> None:
        if doc_id not in self.rel_of_group[group]:
            self.rel_of_group[group].append(doc_id)


def build(
    spec: TaskSpec,
    *,
    data_dir: str | Path | None = None,
    text_mode: str = "passage",
    languages: list[str] | None = None,
    verify: bool = True,
    split: str | None = None,
) -> TaskData:
    """Build the pooled passage task described by ``spec`` (see the module docstring)."""
    if text_mode == "sentence":  # the runner's sentence-level default means "this task's default"
        text_mode = "passage"
    if text_mode not in TEXT_MODES:
        raise UserError(f"MMLIR candidate text mode {text_mode!r} is unknown; expected one of {', '.join(TEXT_MODES)}")
    langs = list(spec.languages)
    if languages:
        unknown = [x for x in languages if x not in langs]
        if unknown:
            raise UserError(f"task {spec.name} has no language(s) {unknown}; it has {', '.join(langs)}")
        langs = [x for x in langs if x in languages]
    root = data_root(data_dir)
    source = str(spec.options.get("source", ""))
    split = split or str(spec.options.get("split", "test"))
    hashes: dict[str, str] = {}
    b = _Builder()
    if source == "xquad-r":
        _build_xquad(spec, root, langs, verify, hashes, b)
    elif source == "mlqa":
        _build_mlqa(spec, root, langs, split, verify, hashes, b)
    elif source == "belebele":
        _build_belebele(spec, root, langs, verify, hashes, b)
    else:
        raise DataError(f"tasks/{spec.name}.toml", f"option source = {source!r}; expected xquad-r, mlqa or belebele")
    doc_set = set(b.d_ids)
    qrels = {qid: {d: 1 for d in b.rel_of_group[g] if d in doc_set} for qid, g in zip(b.q_ids, b.q_groups, strict=True)}
    queries = Corpus(b.q_ids, b.q_langs, b.q_texts, b.q_groups)
    docs = Corpus(b.d_ids, b.d_langs, b.d_texts)
    if languages is None:
        _check_expected(spec, queries, docs, qrels)
    per_lang = {x: {"queries": int(sum(1 for y in b.q_langs if y == x)),
                    "passages": int(sum(1 for y in b.d_langs if y == x))} for x in langs}
    n_rel = [len(v) for v in qrels.values()]
    stats = {"per_language": per_lang, "relevant_per_query_min": min(n_rel, default=0),
             "relevant_per_query_max": max(n_rel, default=0),
             "relevant_per_query_mean": round(float(np.mean(n_rel)), 4) if n_rel else 0.0}
    return TaskData(spec, queries, docs, qrels, mmlir_cells(queries, docs, langs), hashes,
                    {"text_mode": text_mode, "languages": langs, "split": split, "source": source,
                     "construction": "SHIFT build_benchmarks.py --multilingual_queries (MIMO MMLIR)",
                     "counts": stats})


def mmlir_cells(queries: Corpus, docs: Corpus, langs: list[str]) -> list[Cell]:
    """``multi`` per query language (whole pool), ``mono`` per language, and one ``all`` cell (micro-average)."""
    ql = queries.lang_array()
    dl = docs.lang_array()
    all_docs = np.arange(len(docs))
    q_by = {x: np.flatnonzero(ql == x) for x in langs}
    cells = [Cell("multi", x, x, tuple(langs), q_by[x], all_docs) for x in langs]
    cells += [Cell("mono", x, x, (x,), q_by[x], np.flatnonzero(dl == x)) for x in langs]
    cells.append(Cell("all", "all", "all", tuple(langs), np.arange(len(queries)), all_docs))
    return cells


def _check_expected(spec: TaskSpec, queries: Corpus, docs: Corpus, qrels: dict[str, dict[str, int]]) -> None:
    exp = spec.expected
    if exp.pool is not None and len(docs) != exp.pool:
        raise DataError(spec.name, f"pool has {len(docs)} passages, expected {exp.pool}")
    for table, corpus, what in ((exp.questions, queries, "queries"), (exp.candidates, docs, "passages")):
        for lang, n in table.items():
            found = sum(1 for x in corpus.langs if x == lang)
            if found != n:
                raise DataError(spec.name, f"{found} {what} in {lang}, expected {n}")
    empty = [q for q, d in qrels.items() if not d]
    if empty:
        raise DataError(spec.name, f"{len(empty)} queries have no relevant passage (e.g. {empty[0]})")


def _source_file(spec: TaskSpec, root: Path, name: str, verify: bool, hashes: dict[str, str]) -> Path:
    hits = [f for f in spec.source.files if Path(f.path).name == name]
    if len(hits) != 1:
        raise DataError(f"tasks/{spec.name}.toml", f"expected one source file named {name}, found {len(hits)}")
    sf = hits[0]
    path = ensure_file(root, sf.path, spec.source.url_for(sf), sf.sha256, verify=verify)
    if sf.sha256:
        hashes[sf.path] = sf.sha256
    return path


def _build_xquad(spec: TaskSpec, root: Path, langs: list[str], verify: bool, hashes: dict[str, str],
                 b: _Builder) -> None:
    parsed = {x: read_squad(_source_file(spec, root, f"{x}.json", verify, hashes)) for x in langs}
    ref_lang = langs[0]
    ref = [(p.article, p.paragraph, tuple(q.qid for q in p.questions)) for p in parsed[ref_lang]]
    for x in langs[1:]:
        got = [(p.article, p.paragraph, tuple(q.qid for q in p.questions)) for p in parsed[x]]
        if got != ref:
            bad = next((i for i, (g, r) in enumerate(zip(got, ref, strict=False)) if g != r), min(len(got), len(ref)))
            raise DataError(f"xquad-r/{x}.json", f"not parallel to xquad-r/{ref_lang}.json: paragraph {bad} differs "
                            f"(articles, paragraphs and question ids must match position by position)")
    for x in langs:
        for p in parsed[x]:
            doc_id = f"{x}/{p.article}.{p.paragraph}"
            b.doc(doc_id, x, p.context)
            for q in p.questions:
                b.relevant(q.qid, doc_id)
    for x in langs:
        for p in parsed[x]:
            for q in p.questions:
                b.query(f"{x}/{q.qid}", x, q.text, q.qid)


def _mlqa_path(spec: TaskSpec, root: Path, split: str, c: str, q: str, verify: bool,
               hashes: dict[str, str]) -> Path:
    name = f"{split}-context-{c}-question-{q}.json"
    declared = [f for f in spec.source.files if Path(f.path).name == name]
    if declared:
        return _source_file(spec, root, name, verify, hashes)
    path = root / "mlqa" / split / name
    if path.exists():
        return path
    return _extract_mlqa(spec, root, split, name, verify, hashes)


def _extract_mlqa(spec: TaskSpec, root: Path, split: str, name: str, verify: bool, hashes: dict[str, str]) -> Path:
    """Fetch the MLQA v1 release zip (the spec's ``MLQA_V1.zip`` source file) once; extract ``MLQA_V1/<split>/<name>``."""
    zips = [f for f in spec.source.files if Path(f.path).name == "MLQA_V1.zip"]
    if not zips:
        raise DataError(root / "mlqa" / split / name, "file is missing, and the task declares no MLQA_V1.zip to "
                        f"extract it from; unzip MLQA_V1/{split}/*.json from {MLQA_URL} into {root / 'mlqa' / split}")
    sf = zips[0]
    zpath = ensure_file(root, sf.path, spec.source.url_for(sf) or MLQA_URL, sf.sha256, verify=verify)
    if sf.sha256:
        hashes[sf.path] = sf.sha256
    member = f"MLQA_V1/{split}/{name}"
    out = root / "mlqa" / split / name
    try:
        with zipfile.ZipFile(zpath) as zf:
            data = zf.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(zpath, f"cannot extract {member} ({exc})") from None
    try:
        with atomic_open(out, "wb") as fh:
            fh.write(data)
    except UserError:  # read-only data root: parse from memory via a temporary copy is not needed; say so
        raise UserError(f"{out.parent}: cannot write the extracted MLQA file; set --data-dir to a writable "
                        "folder") from None
    return out


def _build_mlqa(spec: TaskSpec, root: Path, langs: list[str], split: str, verify: bool,
                hashes: dict[str, str], b: _Builder) -> None:
    if split not in ("dev", "test"):
        raise UserError(f"MLQA split {split!r} is unknown; expected dev or test")
    all_langs = list(spec.languages)  # passages come from every context language, as in SHIFT
    files = {(c, q): read_squad(_mlqa_path(spec, root, split, c, q, verify, hashes))
             for c in all_langs for q in all_langs}
    doc_of_text: dict[str, str] = {}
    for c in all_langs:  # pass 1: passages and MLQA id -> passages
        for q in all_langs:
            for p in files[(c, q)]:
                doc_id = doc_of_text.get(p.context)
                if doc_id is None:
                    doc_id = f"{c}/{hashlib.sha1(p.context.encode('utf-8')).hexdigest()[:16]}"
                    doc_of_text[p.context] = doc_id
                    if c in langs:
                        b.doc(doc_id, c, p.context)
                for qa in p.questions:
                    b.relevant(qa.qid, doc_id)
    seen: dict[tuple[str, str], str] = {}
    for c in all_langs:  # pass 2: one query per (MLQA id, question language)
        for q in all_langs:
            for p in files[(c, q)]:
                for qa in p.questions:
                    key = (qa.qid, q)
                    if key in seen:
                        if seen[key] != qa.text:
                            raise DataError(f"mlqa/{split}/{split}-context-{c}-question-{q}.json",
                                            f"question {qa.qid} ({q}) differs from its text in another file")
                        continue
                    seen[key] = qa.text
                    if q in langs:
                        b.query(f"{q}/{qa.qid}", q, qa.text, qa.qid)


def _build_belebele(spec: TaskSpec, root: Path, langs: list[str], verify: bool, hashes: dict[str, str],
                    b: _Builder) -> None:
    if "en" not in langs:
        raise UserError("belebele-mmlir anchors question ids on English (as SHIFT does): keep 'en' among the languages")
    items = {x: read_belebele(_source_file(spec, root, f"{BELEBELE_CONFIGS[x]}.jsonl", verify, hashes))
             for x in langs}
    base = {(it.link, it.question_number): hashlib.md5(f"{it.link}_{it.question_number}".encode()).hexdigest()[:8]
            for it in items["en"]}
    doc_of_text: dict[str, str] = {}
    n_lang: dict[str, int] = defaultdict(int)
    for x, rows in items.items():
        for it in rows:
            key = (it.link, it.question_number)
            if key not in base:
                continue
            doc_id = doc_of_text.get(it.passage)
            if doc_id is None:
                doc_id = f"{x}/p{n_lang[x]}"
                n_lang[x] += 1
                doc_of_text[it.passage] = doc_id
                b.doc(doc_id, x, it.passage)
            b.relevant(base[key], doc_id)
    for x, rows in items.items():
        for it in rows:
            key = (it.link, it.question_number)
            if key in base:
                b.query(f"{x}/q_{base[key]}", x, it.question, base[key])
