"""Reader for the LAReQA format (XQuAD-R, MLQA-R): SQuAD v1.1 JSON plus per-paragraph sentence spans.

Each paragraph has ``sentences`` and ``sentence_breaks`` ([start, end) character spans into ``context``). A
question's answer is the sentence whose span contains its answer's ``answer_start`` (Roy et al. 2020; xtreme
``third_party/utils_lareqa.py``). Positions are 0-based in file order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError


@dataclass(frozen=True)
class Sentence:
    article: int
    paragraph: int
    index: int
    text: str
    context: str


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    article: int
    paragraph: int
    answer_sentence: int


@dataclass(frozen=True)
class LareqaFile:
    path: Path
    sentences: list[Sentence]
    questions: list[Question]


def _field(obj: Any, key: str, typ: type | tuple[type, ...], path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(path, f"missing field '{key}', expected a SQuAD/LAReQA record", where=where)
    val = obj[key]
    if not isinstance(val, typ) or (isinstance(val, bool) and typ is int):  # JSON true is not an offset
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise DataError(path, f"field '{key}' is {type(val).__name__}, expected {names}", where=where)
    return val


def read_lareqa(path: str | Path) -> LareqaFile:
    """Parse one LAReQA JSON file, validating every field the task construction relies on."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text (byte {exc.start}), expected JSON") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg}), expected a SQuAD/LAReQA JSON file",
                        where=f"line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply, expected a SQuAD/LAReQA file") from None
    articles = _field(doc, "data", list, path, "top level")
    sentences: list[Sentence] = []
    questions: list[Question] = []
    seen: set[str] = set()
    for a, article in enumerate(articles):
        paragraphs = _field(article, "paragraphs", list, path, f"data[{a}]")
        for p, para in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            context = _field(para, "context", str, path, where)
            sents = _field(para, "sentences", list, path, where)
            breaks = _field(para, "sentence_breaks", list, path, where)
            if len(sents) != len(breaks):
                raise DataError(path, f"{len(sents)} sentences but {len(breaks)} sentence_breaks, expected equal",
                                where=where)
            spans: list[tuple[int, int]] = []
            for s, (text, span) in enumerate(zip(sents, breaks, strict=True)):
                w = f"{where}.sentences[{s}]"
                if not isinstance(text, str) or not text.strip():
                    raise DataError(path, f"sentence is {text!r}, expected non-empty text", where=w)
                if (not isinstance(span, list) or len(span) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in span)
                        or not 0 <= span[0] < span[1] <= len(context)):
                    raise DataError(path, f"sentence_breaks[{s}] is {span!r}, expected [start, end] within the "
                                    f"context (length {len(context)})", where=where)
                spans.append((span[0], span[1]))
                sentences.append(Sentence(a, p, s, text, context))
            for qi, qa in enumerate(_field(para, "qas", list, path, where)):
                w = f"{where}.qas[{qi}]"
                qid = _field(qa, "id", str, path, w)
                if not qid.strip():
                    raise DataError(path, "question id is empty, expected a non-empty id", where=w)
                qtext = _field(qa, "question", str, path, w)
                if not qtext.strip():
                    raise DataError(path, "question text is empty, expected a question", where=f"{w} id={qid}")
                if qid in seen:
                    raise DataError(path, f"duplicate question id {qid!r}, expected unique ids", where=w)
                seen.add(qid)
                answers = _field(qa, "answers", list, path, w)
                if not answers:
                    raise DataError(path, "no answers, expected at least one", where=f"{w} id={qid}")
                start = _field(answers[0], "answer_start", int, path, f"{w}.answers[0]")
                if not 0 <= start < len(context):
                    raise DataError(path, f"answer_start {start} is outside the context (length {len(context)})",
                                    where=f"{w} id={qid}")
                hit = [s for s, (b, e) in enumerate(spans) if b <= start < e]
                if not hit:
                    raise DataError(path, f"answer_start {start} falls in no sentence span", where=f"{w} id={qid}")
                questions.append(Question(qid, qtext, a, p, hit[0]))
    if not sentences:
        raise DataError(path, "no sentences in any paragraph, expected at least one candidate", where="data")
    return LareqaFile(path, sentences, questions)
