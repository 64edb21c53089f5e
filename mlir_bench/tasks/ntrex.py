"""A dev task for selection, built from held-out NTREX-128 news documents (docs/PROTOCOLS.md §2.5).

NTREX-128 (Federmann et al. 2022) is the WMT19 English news test set, 1997 sentences in 123 documents
(``DOCUMENT_IDS.tsv``), human-translated line by line into 128 languages, so every sentence exists in all 11
XQuAD-R languages. The task holds out the documents listed in the spec (option ``documents``); the trainer
removes exactly these documents from its training data when a recipe names the task in ``[data] holdout_task``.

Construction (inverse cloze, as the trainer's query-passage pairs, :mod:`mlir_bench.training.examples`):

- Each held-out document's sentences are cut, in order, into blocks of ``block_sentences`` (3) consecutive
  sentences; the 0-2 sentences left at the end of a document join its last block.
- The block's sentence at ``query_position`` (1, the middle) is the **query**; the block's other sentences,
  joined (by a space, without one for zh), are its **passage**. The query sentence is not in the pool.
- Queries and passages exist in every language; a query's relevant set is its block's passage in every
  language (11 relevant in the Multi pool, as XQuAD-R's answer sentence). Queries of one block share a group.
- Ids: query ``{lang}/{document}.{block}``, group ``{document}.{block}``; passage ``{lang}/{document}.{block}``.
- Cells: Mono, Cross and Multi, as XQuAD-R (:func:`.lareqa.lareqa_cells`); headline Multi mAP.

The held-out documents were drawn once by a rule that :func:`select_documents` states and a test checks: the
document ids ordered by sha256(``"ntrex-dev:" + id``), the first 30, listed in file order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from ..data.fetch import data_root, ensure_file
from ..errors import DataError, UserError
from .base import Corpus, TaskData
from .lareqa import lareqa_cells
from .spec import TaskSpec

TEXT_MODES = ("passage",)
DOCUMENT_IDS = "DOCUMENT_IDS.tsv"
_NO_SPACE_JOIN = {"zh", "ja"}


def select_documents(doc_ids: Sequence[str], n: int, salt: str = "ntrex-dev") -> list[str]:
    """The first ``n`` distinct document ids ordered by sha256(``salt:id``), returned in file order."""
    order = list(dict.fromkeys(doc_ids))
    if not 0 < n <= len(order):
        raise UserError(f"cannot hold out {n} of {len(order)} documents")
    chosen = set(sorted(order, key=lambda d: hashlib.sha256(f"{salt}:{d}".encode()).hexdigest())[:n])
    return [d for d in order if d in chosen]


def heldout_documents(spec: TaskSpec) -> list[str]:
    """The NTREX-128 document ids a task of this family holds out (its ``documents`` option)."""
    docs = spec.options.get("documents")
    if spec.family != "ntrex" or not isinstance(docs, list) or not docs or not all(isinstance(d, str) for d in docs):
        raise DataError(f"tasks/{spec.name}.toml", "expected family = \"ntrex\" and a non-empty list of document "
                        "ids in [options] documents", where="field options.documents")
    return list(docs)


def blocks(n_sentences: int, size: int) -> list[list[int]]:
    """Sentence positions of each block: runs of ``size``; the 0..size-1 left over join the last block."""
    if size < 2:
        raise UserError(f"block_sentences must be at least 2 (a query and a passage), got {size}")
    k = n_sentences // size
    if k == 0:
        return []
    out = [list(range(j * size, (j + 1) * size)) for j in range(k)]
    out[-1].extend(range(k * size, n_sentences))
    return out


def _join(sentences: Sequence[str], lang: str) -> str:
    return ("" if lang in _NO_SPACE_JOIN else " ").join(s.strip() for s in sentences)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 at byte {exc.start}") from None


def build(
    spec: TaskSpec,
    *,
    data_dir: str | Path | None = None,
    text_mode: str = "passage",
    languages: list[str] | None = None,
    verify: bool = True,
) -> TaskData:
    """Queries, pool, qrels and cells of the held-out NTREX-128 documents (see the module docstring)."""
    if text_mode == "sentence":  # the runner's sentence-level default means "this task's default"
        text_mode = "passage"
    if text_mode not in TEXT_MODES:
        raise UserError(f"{spec.name} candidate text mode {text_mode!r} is unknown; expected one of "
                        f"{', '.join(TEXT_MODES)}")
    langs = list(spec.languages)
    if languages:
        unknown = [x for x in languages if x not in langs]
        if unknown:
            raise UserError(f"task {spec.name} has no language(s) {unknown}; it has {', '.join(langs)}")
        langs = [x for x in langs if x in languages]
    size = int(spec.options.get("block_sentences", 3))  # type: ignore[call-overload]
    position = int(spec.options.get("query_position", 1))  # type: ignore[call-overload]
    if not 0 <= position < size:
        raise DataError(f"tasks/{spec.name}.toml", f"query_position {position} is outside a block of {size}",
                        where="field options.query_position")
    root = data_root(data_dir)
    hashes: dict[str, str] = {}

    def read(sf) -> list[str]:
        path = ensure_file(root, sf.path, spec.source.url_for(sf), sf.sha256, verify=verify)
        if sf.sha256:
            hashes[sf.path] = sf.sha256
        return _read_lines(path)

    ids_file = [f for f in spec.source.files if Path(f.path).name == DOCUMENT_IDS]
    if len(ids_file) != 1:
        raise DataError(f"tasks/{spec.name}.toml", f"expected one source file named {DOCUMENT_IDS}")
    doc_of_line = [line.strip() for line in read(ids_file[0])]
    by_lang = {f.lang: f for f in spec.source.files if f.lang}
    columns: dict[str, list[str]] = {}
    for lang in langs:
        if lang not in by_lang:
            raise DataError(f"tasks/{spec.name}.toml", f"no source file for language {lang!r}")
        columns[lang] = read(by_lang[lang])
        if len(columns[lang]) != len(doc_of_line):
            raise DataError(by_lang[lang].path, f"{len(columns[lang])} lines, expected {len(doc_of_line)} (one per "
                            f"line of {DOCUMENT_IDS}, line-aligned)")
    lines_of: dict[str, list[int]] = {}
    for i, doc in enumerate(doc_of_line):
        if doc in lines_of and lines_of[doc][-1] != i - 1:
            raise DataError(ids_file[0].path, f"document {doc!r} is not contiguous (line {i + 1})")
        lines_of.setdefault(doc, []).append(i)
    documents = heldout_documents(spec)
    missing = [d for d in documents if d not in lines_of]
    if missing:
        raise DataError(ids_file[0].path, f"held-out document(s) {missing[:3]} not found")

    q_ids: list[str] = []
    q_langs: list[str] = []
    q_texts: list[str] = []
    q_groups: list[str] = []
    d_ids: list[str] = []
    d_langs: list[str] = []
    d_texts: list[str] = []
    group_blocks: list[tuple[str, list[int], int]] = []  # (group, passage lines, query line)
    for doc in documents:
        lines = lines_of[doc]
        for j, block in enumerate(blocks(len(lines), size)):
            query = lines[block[position]]
            passage = [lines[b] for b in block if b != block[position]]
            group_blocks.append((f"{doc}.{j}", passage, query))
    for lang in langs:  # the pool, language by language
        for group, passage, _ in group_blocks:
            d_ids.append(f"{lang}/{group}")
            d_langs.append(lang)
            d_texts.append(_join([columns[lang][i] for i in passage], lang))
    for lang in langs:
        for group, _, query in group_blocks:
            q_ids.append(f"{lang}/{group}")
            q_langs.append(lang)
            q_texts.append(columns[lang][query].strip())
            q_groups.append(group)
    qrels = {qid: {f"{x}/{g}": 1 for x in langs} for qid, g in zip(q_ids, q_groups, strict=True)}
    queries = Corpus(q_ids, q_langs, q_texts, q_groups)
    docs = Corpus(d_ids, d_langs, d_texts, [g for _ in langs for g, _, _ in group_blocks])
    if languages is None:
        _check_expected(spec, queries, docs)
    return TaskData(spec, queries, docs, qrels, lareqa_cells(queries, docs, langs), hashes,
                    {"text_mode": text_mode, "languages": langs, "split": "dev", "source": "ntrex-128",
                     "standard": False, "purpose": "selection (dev set): never a reported benchmark",
                     "construction": f"inverse cloze over blocks of {size} sentences of {len(documents)} held-out "
                                     f"NTREX-128 documents (docs/PROTOCOLS.md §2.5)",
                     "counts": {"documents": len(documents), "blocks": len(group_blocks)}})


def _check_expected(spec: TaskSpec, queries: Corpus, docs: Corpus) -> None:
    exp = spec.expected
    if exp.pool is not None and len(docs) != exp.pool:
        raise DataError(spec.name, f"pool has {len(docs)} passages, expected {exp.pool}")
    for table, corpus, what in ((exp.questions, queries, "queries"), (exp.candidates, docs, "passages")):
        for lang, n in table.items():
            found = sum(1 for x in corpus.langs if x == lang)
            if found != n:
                raise DataError(spec.name, f"{found} {what} in {lang}, expected {n}")
