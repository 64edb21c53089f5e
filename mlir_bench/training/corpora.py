"""Read the offline parallel corpora (Tatoeba, NTREX-128, MKQA) into language-tagged parallel items.

Every item holds the same content in several languages, always including English (the side the teacher
embeds). Languages are ISO 639-1 (:mod:`.languages`). Each file read is hashed (sha256), so the training
manifest records exactly which bytes were trained on. Missing or malformed files raise :class:`DataError`
naming the file, what was found and what was expected.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .languages import to_iso1

# MKQA example ids whose question equals a MIRACL *dev* topic (mkqa-mia2022/SOURCE.md): dropped in every language.
MKQA_DROPPED_IDS: frozenset[str] = frozenset(
    {
        "-4914785378375604089", "-2981467081011300302", "-3924272032130150483",
        "4312150576905882217", "-6424114240676170332", "-59993576524081521",
    }
)
MKQA_FILES = ("mkqa_dev.zip", "mkqa_test_without_answers.zip")


@dataclass(frozen=True)
class ParallelItem:
    """One piece of content in several languages. ``group`` ties items of one document together."""

    item_id: str
    source: str
    kind: str  # "sentence" (Tatoeba, NTREX) or "query" (MKQA)
    texts: dict[str, str]
    group: str = ""


@dataclass
class DataFiles:
    """The sha256 of every data file read, keyed by its path relative to the data root."""

    root: Path
    sha256: dict[str, str] = field(default_factory=dict)

    def read_bytes(self, relative: str) -> bytes:
        path = self.root / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataError(path, "file not found (expected the offline training data; see data/README.md)") from None
        except OSError as exc:
            raise DataError(path, f"cannot read ({exc.strerror})") from None
        self.sha256[relative] = hashlib.sha256(data).hexdigest()
        return data

    def read_lines(self, relative: str) -> list[str]:
        try:
            return self.read_bytes(relative).decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DataError(self.root / relative, f"not UTF-8 at byte {exc.start}") from None


def _check_aligned(files: DataFiles, paths: list[str], sizes: list[int]) -> None:
    if len(set(sizes)) != 1:
        found = ", ".join(f"{p}: {n} lines" for p, n in zip(paths, sizes, strict=True))
        raise DataError(files.root / paths[0], f"line-aligned files differ in length ({found}); expected equal")


def tatoeba_codes(root: Path) -> list[str]:
    """The ISO 639-3 codes of the Tatoeba pairs present under ``root/tatoeba``."""
    folder = root / "tatoeba"
    if not folder.is_dir():
        raise DataError(folder, "folder not found (expected the Tatoeba files tatoeba.xxx-eng.{xxx,eng})")
    return sorted({p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng")})


def load_tatoeba(files: DataFiles, languages: Iterable[str]) -> list[ParallelItem]:
    """Bilingual (xx, en) sentence pairs for every requested language that Tatoeba has."""
    wanted = set(languages) - {"en"}
    items: list[ParallelItem] = []
    for code in tatoeba_codes(files.root):
        lang = to_iso1(code)
        if lang not in wanted:
            continue
        src, eng = f"tatoeba/tatoeba.{code}-eng.{code}", f"tatoeba/tatoeba.{code}-eng.eng"
        xx_lines, en_lines = files.read_lines(src), files.read_lines(eng)
        _check_aligned(files, [src, eng], [len(xx_lines), len(en_lines)])
        for i, (xx, en) in enumerate(zip(xx_lines, en_lines, strict=True)):
            if xx.strip() and en.strip():
                items.append(ParallelItem(f"tatoeba:{code}:{i}", "tatoeba", "sentence", {lang: xx, "en": en}))
    return items


def ntrex_codes(root: Path) -> dict[str, str]:
    """NTREX reference files present under ``root/ntrex-128``: ISO 639-1 → file name."""
    folder = root / "ntrex-128"
    if not folder.is_dir():
        raise DataError(folder, "folder not found (expected newstest2019-*.txt and DOCUMENT_IDS.tsv)")
    out = {"en": "newstest2019-src.eng.txt"}
    for path in sorted(folder.glob("newstest2019-ref.*.txt")):
        out[to_iso1(path.name[len("newstest2019-ref.") : -len(".txt")])] = path.name
    return out


def load_ntrex(files: DataFiles, languages: Iterable[str]) -> list[ParallelItem]:
    """NTREX-128 sentences, multi-way parallel over the requested languages, grouped by news document."""
    available = ntrex_codes(files.root)
    langs = [lang for lang in sorted(set(languages) | {"en"}) if lang in available]
    doc_ids = [line.strip() for line in files.read_lines("ntrex-128/DOCUMENT_IDS.tsv")]
    columns = {lang: files.read_lines(f"ntrex-128/{available[lang]}") for lang in langs}
    paths = ["ntrex-128/DOCUMENT_IDS.tsv"] + [f"ntrex-128/{available[lang]}" for lang in langs]
    _check_aligned(files, paths, [len(doc_ids)] + [len(col) for col in columns.values()])
    return [
        ParallelItem(f"ntrex:{i}", "ntrex", "sentence", {lang: columns[lang][i] for lang in langs}, group=doc_ids[i])
        for i in range(len(doc_ids))
    ]


def load_mkqa(files: DataFiles, languages: Iterable[str]) -> tuple[list[ParallelItem], int]:
    """MKQA questions (MIA-2022 split), parallel over the requested languages, minus :data:`MKQA_DROPPED_IDS`.

    Returns the items and the number of example ids dropped.
    """
    wanted = set(languages) | {"en"}
    by_id: dict[str, dict[str, str]] = {}
    for name in MKQA_FILES:
        relative = f"mkqa-mia2022/{name}"
        try:
            archive = zipfile.ZipFile(io.BytesIO(files.read_bytes(relative)))
        except zipfile.BadZipFile:
            raise DataError(files.root / relative, "not a zip archive") from None
        for member in archive.namelist():
            if not member.endswith(".jsonl"):
                continue
            lang = to_iso1(member.rsplit("mkqa-", 1)[-1][: -len(".jsonl")])
            if lang not in wanted:
                continue
            for lineno, line in enumerate(archive.read(member).decode("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    example_id = record["id"].rsplit("_", 1)[0] if lang != "zh" else record["id"][: -len("_zh_cn")]
                    question = record["question"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(files.root / relative, f"bad record ({exc})", where=f"{member}:{lineno}") from None
                by_id.setdefault(example_id, {})[lang] = question
    dropped = sorted(MKQA_DROPPED_IDS & by_id.keys())
    items = [
        ParallelItem(f"mkqa:{example_id}", "mkqa", "query", texts)
        for example_id, texts in sorted(by_id.items())
        if example_id not in MKQA_DROPPED_IDS and "en" in texts and len(texts) > 1
    ]
    return items, len(dropped)
