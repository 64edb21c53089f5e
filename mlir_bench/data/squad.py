"""Reader for SQuAD v1.1-style JSON (XQuAD-R, MLQA): articles -> paragraphs (``context``) -> questions.

Only the fields passage-level tasks need are read and validated: ``data[].paragraphs[].context`` and
``qas[].{id, question}``. Positions (article, paragraph) are 0-based in file order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError


@dataclass(frozen=True)
class SquadQuestion:
    qid: str
    text: str


@dataclass(frozen=True)
class SquadParagraph:
    article: int
    paragraph: int
    title: str
    context: str
    questions: tuple[SquadQuestion, ...]


def _get(obj: Any, key: str, typ: type, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(path, f"missing field '{key}', expected a SQuAD record", where=where)
    val = obj[key]
    if not isinstance(val, typ):
        raise DataError(path, f"field '{key}' is {type(val).__name__}, expected {typ.__name__}", where=where)
    return val


def read_squad(path: str | Path) -> list[SquadParagraph]:
    """Every paragraph of a SQuAD-format file with its questions, validated."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON ({exc.msg})", where=f"line {exc.lineno} column {exc.colno}") from None
    out: list[SquadParagraph] = []
    for a, art in enumerate(_get(doc, "data", list, path, "top level")):
        title = art.get("title", "") if isinstance(art, dict) else ""
        for p, para in enumerate(_get(art, "paragraphs", list, path, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            context = _get(para, "context", str, path, where)
            qs = []
            for i, qa in enumerate(_get(para, "qas", list, path, where)):
                w = f"{where}.qas[{i}]"
                qs.append(SquadQuestion(_get(qa, "id", str, path, w), _get(qa, "question", str, path, w)))
            out.append(SquadParagraph(a, p, title if isinstance(title, str) else "", context, tuple(qs)))
    return out
