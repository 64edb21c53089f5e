"""The transform syntax: ``<model>+<method>[:<param>][:<source>][:skip-missing]``.

- ``center`` (per role and language: subtract the language mean, renormalise), ``shift`` (documents only:
  subtract the language mean minus the English mean; ``shift:both`` also queries), ``lir:K`` (remove the top K
  singular directions of each language's estimation vectors; K >= 1), ``procrustes`` (per language, the
  orthogonal map onto English fitted on parallel pairs, both sides).
- ``<source>``: ``ntrex`` (NTREX-128, the default), ``tatoeba``, ``pool`` (the evaluation queries and pool
  themselves: transductive), or a JSONL file of ``{"lang", "text", "group"}`` records (a path ending in
  ``.jsonl``; records of one ``group`` are translations of each other).
- ``skip-missing``: a language with no estimation text is left untransformed (recorded); the default is an error.

Examples: ``me5-small+center:ntrex``, ``muse-v3+lir:2:ntrex``, ``me5-small+shift:both:pool``,
``minilm-l6+procrustes:tatoeba``, ``x+center:./my-estimation.jsonl``. The canonical spelling (:attr:`name`) always
names the source and never a path (a file source is ``file-<first 12 hex of its sha256>``), so result names are
the same on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

METHODS = ("center", "shift", "lir", "procrustes")
SOURCES = ("ntrex", "tatoeba", "pool")
SHIFT_SIDES = ("docs", "both")
MAX_LIR_K = 64


@dataclass(frozen=True)
class TransformSpec:
    method: str
    param: str | None  # lir: K; shift: "docs" or "both"; else None
    source: str  # ntrex, tatoeba, pool or file
    path: Path | None = None  # the JSONL file of a "file" source
    file_sha256: str | None = None
    skip_missing: bool = False

    @property
    def transductive(self) -> bool:
        return self.source == "pool"

    @property
    def k(self) -> int:
        return int(self.param) if self.method == "lir" and self.param else 0

    @property
    def name(self) -> str:
        """The canonical spelling: ``center:ntrex``, ``lir:2:pool``, ``shift:both:ntrex``, ``center:file-ab12..``."""
        source = f"file-{(self.file_sha256 or '')[:12]}" if self.source == "file" else self.source
        parts = [self.method]
        if self.param is not None and not (self.method == "shift" and self.param == "docs"):
            parts.append(self.param)
        parts.append(source)
        if self.skip_missing:
            parts.append("skip-missing")
        return ":".join(parts)


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the transform's estimation file ({exc.strerror or exc})") from None


def parse_transform(text: str) -> TransformSpec:
    """Parse ``<method>[:<param>][:<source>][:skip-missing]``; a UserError says what was expected."""
    parts = [p.strip() for p in text.strip().split(":")]
    if not parts or not parts[0]:
        raise UserError(f"transform {text!r}: empty; expected one of {', '.join(METHODS)} (e.g. center:ntrex)")
    method, rest = parts[0], parts[1:]
    if method not in METHODS:
        raise UserError(f"transform {text!r}: unknown method {method!r}; expected one of {', '.join(METHODS)}")
    skip = bool(rest) and rest[-1] == "skip-missing"
    if skip:
        rest = rest[:-1]
    param: str | None = None
    if method == "lir":
        if not rest or not rest[0].isdigit() or not 1 <= int(rest[0]) <= MAX_LIR_K:
            raise UserError(f"transform {text!r}: lir needs the number of directions to remove, an integer from 1 "
                            f"to {MAX_LIR_K} (e.g. lir:2:ntrex)")
        param, rest = str(int(rest[0])), rest[1:]
    elif method == "shift":
        param = "docs"
        if rest and rest[0] in SHIFT_SIDES:
            param, rest = rest[0], rest[1:]
    source_text = ":".join(rest) if rest else "ntrex"  # a Windows path may hold ':'
    if not source_text:
        raise UserError(f"transform {text!r}: empty estimation source; expected {', '.join(SOURCES)} or a .jsonl file")
    if source_text in SOURCES:
        if method == "procrustes" and source_text == "pool":
            raise UserError(f"transform {text!r}: procrustes needs parallel pairs, which the evaluation pool has only "
                            "through its relevance labels; estimate it on ntrex, tatoeba or a parallel .jsonl file")
        return TransformSpec(method, param, source_text, skip_missing=skip)
    if source_text.endswith(".jsonl"):
        path = Path(source_text).expanduser()
        return TransformSpec(method, param, "file", path=path, file_sha256=_file_sha256(path), skip_missing=skip)
    raise UserError(f"transform {text!r}: unknown estimation source {source_text!r}; expected "
                    f"{', '.join(SOURCES)} or a path to a .jsonl file of {{lang, text, group}} records")


def split_model(name: str) -> tuple[str, TransformSpec | None]:
    """``"me5-small+center:ntrex"`` -> ``("me5-small", <center:ntrex>)``; a name without a transform -> (name, None).

    The transform is what follows the last ``+`` when that starts with a method name (model names and folders may
    themselves contain ``+``).
    """
    base, sep, tail = name.rpartition("+")
    if not sep or tail.split(":", 1)[0].strip() not in METHODS:
        return name, None
    if not base.strip():
        raise UserError(f"model {name!r}: a transform needs a model before the '+' (e.g. me5-small+center:ntrex)")
    return base, parse_transform(tail)
