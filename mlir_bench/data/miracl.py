"""MIRACL v1.0 files in their published formats: topics TSV, TREC qrels, and the ``{docid, title, text}`` corpus.

- Topics (``topics.miracl-v1.0-<lang>-<split>.tsv``): ``qid<TAB>query``, UTF-8, no header.
- Qrels (``qrels.miracl-v1.0-<lang>-<split>.tsv``): ``qid Q0 docid rel`` (tabs or spaces), rel 0 or 1.
  0 means *judged non-relevant*; a document is relevant when rel > 0.
- Corpus: JSON lines ``{"docid", "title", "text"}``, plain, gzip (``.gz``) or zstd (``.zst``), one file or several
  (Hugging Face ``miracl/miracl-corpus`` ships ``miracl-corpus-v1.0-<lang>/docs-<i>.jsonl.gz``).

Passage text is built exactly as Anserini's ``MrTyDiCollection`` builds the ``contents`` field that Pyserini's
MIRACL BM25 indexes were made from: ``title + "\\n" + text`` (:func:`passage_text`). The title is never dropped,
even when empty (the newline is still there), so that text fingerprints follow the published recipe exactly.

Corpus files of languages not stored locally come from the Hugging Face hub (:func:`hub_corpus_files`) at a
pinned revision; without network access the error names the file, the repository and how to use local files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, UserError
from .readers import iter_lines

HF_CORPUS_REPO = "miracl/miracl-corpus"
# The revision of miracl/miracl-corpus pinned by independent public code (two repositories cite this sha).
HF_CORPUS_REVISION = "d921ec7e349ce0d28daf30b2da9da5ee698bef0d"
# Number of ``docs-<i>.jsonl.gz`` files per language in miracl/miracl-corpus (the dataset's loading script).
HF_CORPUS_FILES = {
    "ar": 5, "bn": 1, "de": 32, "en": 66, "es": 21, "fa": 5, "fi": 4, "fr": 30, "hi": 2, "id": 3, "ja": 14,
    "ko": 3, "ru": 20, "sw": 1, "te": 2, "th": 2, "yo": 1, "zh": 10,
}
# Passages per language (MIRACL paper, Table 1; the sum is the published 106,332,152).
CORPUS_SIZES = {
    "ar": 2_061_414, "bn": 297_265, "de": 15_866_222, "en": 32_893_221, "es": 10_373_953, "fa": 2_207_172,
    "fi": 1_883_509, "fr": 14_636_953, "hi": 506_264, "id": 1_446_315, "ja": 6_953_614, "ko": 1_486_752,
    "ru": 9_543_918, "sw": 131_924, "te": 518_079, "th": 542_166, "yo": 49_043, "zh": 4_934_368,
}


@dataclass(frozen=True)
class Passage:
    docid: str
    title: str
    text: str


def passage_text(title: str, text: str) -> str:
    """Anserini ``MrTyDiCollection.contents()``: ``title + "\\n" + text``."""
    return f"{title}\n{text}"


def read_topics(path: str | Path) -> list[tuple[str, str]]:
    """``[(qid, query), ...]`` in file order; duplicate qids and malformed lines are errors."""
    path = Path(path)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for n, line in iter_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip():
            raise DataError(path, f"expected 'qid<TAB>query', found {len(parts)} field(s): {line[:80]!r}",
                            where=f"line {n}")
        qid, query = parts[0].strip(), parts[1].strip()
        if qid in seen:
            raise DataError(path, f"query id {qid!r} appears twice", where=f"line {n}")
        seen.add(qid)
        out.append((qid, query))
    return out


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``{qid: {docid: rel}}`` with every judgment (rel 0 included), in file order."""
    path = Path(path)
    out: dict[str, dict[str, int]] = {}
    for n, line in iter_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataError(path, f"expected 'qid Q0 docid rel', found {len(parts)} field(s): {line.strip()[:80]!r}",
                            where=f"line {n}")
        qid, _, docid, rel = parts
        try:
            value = int(rel)
        except ValueError:
            raise DataError(path, f"relevance {rel!r} is not an integer", where=f"line {n}") from None
        if value < 0:
            raise DataError(path, f"relevance {value} is negative, expected 0 or 1", where=f"line {n}")
        out.setdefault(qid, {})[docid] = value
    return out


def iter_corpus(paths: Sequence[str | Path]) -> Iterator[Passage]:
    """Stream the passages of one or more JSONL(.gz) corpus files, in order."""
    for p in paths:
        path = Path(p)
        for n, line in iter_lines(path):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"invalid JSON ({exc.msg})", where=f"line {n}") from None
            except RecursionError:
                raise DataError(path, "JSON nested too deeply, expected a passage object", where=f"line {n}") from None
            if not isinstance(rec, dict):
                raise DataError(path, f"expected a JSON object, found {type(rec).__name__}", where=f"line {n}")
            for key in ("docid", "title", "text"):
                if not isinstance(rec.get(key), str):
                    found = "missing" if key not in rec else type(rec[key]).__name__
                    raise DataError(path, f"field {key!r} is {found}, expected a string", where=f"line {n}")
            yield Passage(rec["docid"], rec["title"], rec["text"])


def hub_corpus_files(lang: str, cache_dir: str | Path | None = None, *,
                     revision: str = HF_CORPUS_REVISION) -> list[Path]:
    """Download (or reuse from the hub cache) every corpus file of ``lang``; offline -> one clear UserError."""
    if lang not in HF_CORPUS_FILES:
        raise UserError(f"MIRACL has no corpus for language {lang!r}; it has {', '.join(sorted(HF_CORPUS_FILES))}")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UserError("the MIRACL corpus download needs huggingface_hub: pip install huggingface_hub") from None
    out: list[Path] = []
    for i in range(HF_CORPUS_FILES[lang]):
        name = f"miracl-corpus-v1.0-{lang}/docs-{i}.jsonl.gz"
        try:
            out.append(Path(hf_hub_download(HF_CORPUS_REPO, name, repo_type="dataset", revision=revision,
                                            cache_dir=str(cache_dir) if cache_dir else None)))
        except Exception as exc:  # network, offline mode, missing file: one message, no traceback
            raise UserError(
                f"MIRACL corpus file {name} is not cached and cannot be downloaded from the Hugging Face hub "
                f"(https://huggingface.co/datasets/{HF_CORPUS_REPO}, revision {revision[:12]}): "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. Either connect and retry, "
                f"or put the language's {{docid,title,text}} JSONL(.gz) file(s) at "
                f"<data root>/miracl/corpus/{lang}/ (e.g. docs.jsonl.gz)"
            ) from None
    return out
