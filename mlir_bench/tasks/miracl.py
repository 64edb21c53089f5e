"""MIRACL v1.0 (Zhang et al. 2022; docs/PROTOCOLS.md §2.4), one language at a time, as Pyserini, MIMO and
Elmahdy report it.

- Queries: the topics of the split (dev). Id ``{lang}/{qid}``; no groups (MIRACL queries are not parallel).
- Pool: each language's own Wikipedia passages. Id ``{lang}/{docid}``; every record carries its language.
- Passage text (``text_mode``): ``title+text`` (default) = ``title + "\\n" + text``, exactly Anserini's
  ``MrTyDiCollection.contents()``, from which Pyserini's MIRACL BM25 indexes were built; or ``text`` alone.
- Relevant: qrels rel > 0 (0 = judged non-relevant). Queries without a relevant passage are skipped and counted
  by the runner (MIRACL v1.0 dev has none).
- Cells: ``per-language`` (default; one cell per language, its queries against its own corpus; the main score is
  the mean over languages of nDCG@10). With spec option ``pooled = true`` (task ``miracl-pooled``,
  NON-STANDARD): one ``multi`` cell per query language against the union of all selected corpora, scored with
  the same-language qrels only.

Corpus files: ``<data root>/miracl/corpus/<lang>/*.jsonl[.gz]`` when present (the Yoruba file ships with the
data and is sha256-checked), else downloaded from the Hugging Face hub (``miracl/miracl-corpus`` at the
pinned revision). Published counts (queries, judgments, positives, judged passages, corpus size) are checked
and a mismatch fails loudly; ``strict=False`` relaxes the corpus-size check for a deliberately partial corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import miracl as reader
from ..data.fetch import data_root, ensure_file
from ..errors import DataError, UserError
from .base import Cell, Corpus, TaskData
from .spec import SourceFile, TaskSpec

TEXT_MODES = ("title+text", "text")


def build(
    spec: TaskSpec,
    *,
    data_dir: str | Path | None = None,
    text_mode: str = "title+text",
    languages: list[str] | None = None,
    verify: bool = True,
    strict: bool = True,
    hub_cache_dir: str | Path | None = None,
) -> TaskData:
    """Read topics, qrels and corpus of every selected language and build the per-language (or pooled) cells."""
    if text_mode == "sentence":  # the runner's default for sentence-level tasks means "this task's default"
        text_mode = str(spec.options.get("text_mode", "title+text"))
    if text_mode not in TEXT_MODES:
        raise UserError(f"MIRACL passage text mode {text_mode!r} is unknown; expected one of {', '.join(TEXT_MODES)}")
    langs = _select(spec, languages)
    root = data_root(data_dir)
    split = str(spec.options.get("split", "dev"))
    revision = str(spec.options.get("hf_corpus_revision", reader.HF_CORPUS_REVISION))
    hashes: dict[str, str] = {}
    q_ids: list[str] = []
    q_langs: list[str] = []
    q_texts: list[str] = []
    d_ids: list[str] = []
    d_langs: list[str] = []
    d_texts: list[str] = []
    qrels: dict[str, dict[str, int]] = {}
    counts: dict[str, dict[str, int]] = {}
    sources: dict[str, str] = {}
    for lang in langs:
        files = _files(spec, lang)
        topics_sf = _one(spec, files, f"topics.miracl-v1.0-{lang}-{split}.tsv")
        qrels_sf = _one(spec, files, f"qrels.miracl-v1.0-{lang}-{split}.tsv")
        t_path = ensure_file(root, topics_sf.path, topics_sf.url, topics_sf.sha256, verify=verify)
        r_path = ensure_file(root, qrels_sf.path, qrels_sf.url, qrels_sf.sha256, verify=verify)
        for sf in (topics_sf, qrels_sf):
            if sf.sha256:
                hashes[sf.path] = sf.sha256
        topics = reader.read_topics(t_path)
        judged = reader.read_qrels(r_path)
        _check_topics(spec, lang, t_path, r_path, topics, judged)
        corpus_paths, corpus_source = _corpus_paths(spec, root, lang, files, verify, revision, hub_cache_dir, hashes)
        sources[lang] = corpus_source
        positives = {q: {d for d, r in docs.items() if r > 0} for q, docs in judged.items()}
        wanted = {d for docs in positives.values() for d in docs}
        n_docs = 0
        seen: set[str] = set()
        for p in reader.iter_corpus(corpus_paths):
            if p.docid in seen:
                raise DataError(corpus_source, f"passage id {p.docid!r} appears twice (language {lang})")
            seen.add(p.docid)
            d_ids.append(f"{lang}/{p.docid}")
            d_langs.append(lang)
            d_texts.append(reader.passage_text(p.title, p.text) if text_mode == "title+text" else p.text)
            n_docs += 1
        missing = wanted - seen
        if missing:
            ex = ", ".join(sorted(missing)[:3])
            raise DataError(corpus_source, f"{len(missing)} relevant passage(s) of the {lang} qrels are not in the "
                            f"corpus (e.g. {ex}); expected the complete MIRACL {lang} corpus")
        exp = spec.expected.candidates.get(lang)
        if strict and exp is not None and n_docs != exp:
            raise DataError(corpus_source, f"{n_docs} passages, expected {exp} (published MIRACL {lang} corpus size); "
                            "pass strict=False for a deliberately partial corpus")
        judged_docs = {d for docs in judged.values() for d in docs}
        counts[lang] = {"queries": len(topics), "passages": n_docs, "judgments": sum(map(len, judged.values())),
                        "positives": sum(len(v) for v in positives.values()),
                        "judged_passages_in_corpus": len(judged_docs & seen),
                        "judged_passages": len(judged_docs)}
        for qid, text in topics:
            full = f"{lang}/{qid}"
            q_ids.append(full)
            q_langs.append(lang)
            q_texts.append(text)
            qrels[full] = {f"{lang}/{d}": 1 for d in sorted(positives.get(qid, ()))}
        del seen
    queries = Corpus(q_ids, q_langs, q_texts)
    docs = Corpus(d_ids, d_langs, d_texts)
    pooled = bool(spec.options.get("pooled", False))
    cells = miracl_cells(queries, docs, langs, pooled=pooled)
    return TaskData(spec, queries, docs, qrels, cells, hashes,
                    {"text_mode": text_mode, "languages": langs, "split": split, "pooled": pooled,
                     "standard": not pooled, "counts": counts, "corpus_sources": sources,
                     "hf_corpus": f"{reader.HF_CORPUS_REPO}@{revision}",
                     "passage_text": "title + '\\n' + text (Anserini MrTyDiCollection)" if text_mode == "title+text"
                     else "text only"})


def miracl_cells(queries: Corpus, docs: Corpus, langs: list[str], *, pooled: bool = False) -> list[Cell]:
    """``per-language``: each language's queries against its own corpus; pooled: ``multi`` against all corpora."""
    ql = queries.lang_array()
    dl = docs.lang_array()
    if pooled:
        all_docs = np.arange(len(docs))
        return [Cell("multi", x, x, tuple(langs), np.flatnonzero(ql == x), all_docs) for x in langs]
    return [Cell("per-language", x, x, (x,), np.flatnonzero(ql == x), np.flatnonzero(dl == x)) for x in langs]


def _select(spec: TaskSpec, languages: list[str] | None) -> list[str]:
    langs = list(spec.languages)
    if languages:
        unknown = [x for x in languages if x not in langs]
        if unknown:
            raise UserError(f"task {spec.name} has no language(s) {unknown}; it has {', '.join(langs)}")
        langs = [x for x in langs if x in languages]
    return langs


def _files(spec: TaskSpec, lang: str) -> list[SourceFile]:
    return [f for f in spec.source.files if f.lang == lang]


def _one(spec: TaskSpec, files: list[SourceFile], name: str) -> SourceFile:
    hits = [f for f in files if Path(f.path).name == name]
    if len(hits) != 1:
        raise DataError(f"tasks/{spec.name}.toml", f"expected one source file named {name}, found {len(hits)}")
    return hits[0]


def _check_topics(spec: TaskSpec, lang: str, t_path: Path, r_path: Path,
                  topics: list[tuple[str, str]], judged: dict[str, dict[str, int]]) -> None:
    """Published counts and topic/qrels agreement; any mismatch is a DataError naming the file."""
    exp_q = spec.expected.questions.get(lang)
    if exp_q is not None and len(topics) != exp_q:
        raise DataError(t_path, f"{len(topics)} queries, expected {exp_q} (published MIRACL count)")
    topic_ids = {q for q, _ in topics}
    extra = set(judged) - topic_ids
    if extra:
        raise DataError(r_path, f"{len(extra)} judged query id(s) are not in the topics (e.g. {sorted(extra)[0]!r})")
    checks = (("expected_judgments", sum(map(len, judged.values())), "judgments"),
              ("expected_positives", sum(1 for v in judged.values() for r in v.values() if r > 0), "positive judgments"),
              ("expected_judged_docs", len({d for v in judged.values() for d in v}), "distinct judged passages"))
    for key, found, what in checks:
        table = spec.options.get(key)
        if isinstance(table, dict) and lang in table and int(table[lang]) != found:
            raise DataError(r_path, f"{found} {what}, expected {table[lang]} (published MIRACL count)")


def _corpus_paths(spec: TaskSpec, root: Path, lang: str, files: list[SourceFile], verify: bool, revision: str,
                  hub_cache_dir: str | Path | None, hashes: dict[str, str]) -> tuple[list[Path], str]:
    """The corpus files of ``lang``: declared (checksummed) files, else local files, else the hub download."""
    declared = [f for f in files if "/corpus/" in f.path]
    if declared:
        out = []
        for sf in declared:
            out.append(ensure_file(root, sf.path, spec.source.url_for(sf), sf.sha256, verify=verify))
            if sf.sha256:
                hashes[sf.path] = sf.sha256
        return out, str(out[0].parent)
    local_dir = root / "miracl" / "corpus" / lang
    local = sorted([*local_dir.glob("*.jsonl"), *local_dir.glob("*.jsonl.gz")]) if local_dir.is_dir() else []
    if local:
        return local, str(local_dir)  # user-provided files: no published checksum to compare with
    paths = reader.hub_corpus_files(lang, hub_cache_dir, revision=revision)
    return paths, f"hf://datasets/{reader.HF_CORPUS_REPO}/miracl-corpus-v1.0-{lang}"
