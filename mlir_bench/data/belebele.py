"""Belebele (Bandarkar et al. 2023): per-language JSON lines, downloaded from the Hugging Face hub.

Each record has ``link`` and ``question_number`` (together: the question's identity across languages),
``flores_passage`` (the passage) and ``question``. Files: ``data/<config>.jsonl`` in ``facebook/belebele`` on the
Hugging Face hub, fetched by the task (``tasks/belebele-mmlir.toml``) to ``<data root>/belebele/<config>.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

HF_REPO = "facebook/belebele"
# SHIFT build_benchmarks.py BELEBELE_CONFIGS, with its "dt" (Dutch) written as ISO 639-1 "nl". Note that SHIFT's
# Arabic is acm_Arab (Mesopotamian Arabic), not arb_Arab (Modern Standard Arabic); kept as published.
CONFIGS = {
    "ar": "acm_Arab", "de": "deu_Latn", "nl": "nld_Latn", "en": "eng_Latn", "es": "spa_Latn", "fr": "fra_Latn",
    "hi": "hin_Deva", "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "pt": "por_Latn", "ru": "rus_Cyrl",
    "vi": "vie_Latn", "zh": "zho_Hans",
}


@dataclass(frozen=True)
class BelebeleItem:
    link: str
    question_number: int
    passage: str
    question: str


def read_belebele(path: str | Path) -> list[BelebeleItem]:
    """Parse one Belebele JSONL file, validating the fields the task uses."""
    path = Path(path)
    out: list[BelebeleItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(path, f"cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON ({exc.msg})", where=f"line {n}") from None
        try:
            item = BelebeleItem(str(rec["link"]), int(rec["question_number"]), str(rec["flores_passage"]),
                                str(rec["question"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(path, f"missing or bad field ({exc}); expected link, question_number, "
                            "flores_passage, question", where=f"line {n}") from None
        out.append(item)
    return out
