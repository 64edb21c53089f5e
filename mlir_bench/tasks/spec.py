"""The typed task specification, read from one TOML file per task in ``tasks/``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import DataError

LANG_CODES = frozenset(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id "
    "ig is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd "
    "si sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi yo zh zu".split()
)


class SourceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: str | None = None
    path: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    bytes: int | None = Field(default=None, ge=0)
    url: str | None = None


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    repository: str | None = None
    commit: str | None = None
    url_template: str | None = None
    files: list[SourceFile] = Field(min_length=1)

    def url_for(self, f: SourceFile) -> str | None:
        if f.url:
            return f.url
        if self.url_template:
            return self.url_template.format(file=Path(f.path).name, path=f.path)
        return None


class Expected(BaseModel):
    """Published counts; the loader fails loudly when the files disagree."""

    model_config = ConfigDict(extra="forbid")
    pool: int | None = None
    questions: dict[str, int] = {}
    candidates: dict[str, int] = {}


class TaskSpec(BaseModel):
    """A task as data: its source files with checksums, languages, licence, citation and main score."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    family: Literal["lareqa", "miracl", "mmlir", "ntrex"]
    description: str
    license: str
    citation: str
    main_score: str
    main_setting: Literal["mono", "cross", "multi", "per-language"] = "multi"
    level: Literal["sentence", "passage"] = "sentence"
    languages: list[str] = Field(min_length=1)
    notes: str = ""
    source: Source
    expected: Expected = Expected()
    options: dict[str, object] = {}

    @field_validator("main_score")
    @classmethod
    def _check_main_score(cls, main_score: str) -> str:
        """A metric of :func:`mlir_bench.scoring.metrics.parse` (``map``, ``ndcg@10``, ...), in its canonical
        spelling (the name the result's scores are keyed by): anything else would give a null main score."""
        from ..scoring.metrics import parse

        return str(parse(main_score))  # its ValueError names the value and what is expected

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, languages: list[str]) -> list[str]:
        bad = [lang for lang in languages if lang not in LANG_CODES]
        if bad:
            raise ValueError(f"unknown language code(s) {bad}; expected ISO 639-1 codes")
        dup = sorted({lang for lang in languages if languages.count(lang) > 1})
        if dup:
            raise ValueError(f"language(s) {dup} listed twice; expected each once")
        return languages

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        for f in self.source.files:
            if f.lang is not None and f.lang not in self.languages:
                raise ValueError(f"source file {f.path} has lang {f.lang!r}, which is not in languages")
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> TaskSpec:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(path, f"cannot read task file ({exc.strerror or exc})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(path, f"invalid TOML: {exc}") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            what, where = _describe(exc)
            raise DataError(path, what, where=where) from None


def _describe(exc: ValidationError) -> tuple[str, str]:
    """(what was found and expected, where) for the first validation error, on one short line."""
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        what = "required field is missing"
    elif err["type"].startswith("value_error") or not loc:
        what = msg
    else:
        found = repr(err.get("input"))
        found = found if len(found) <= 80 else found[:77] + "..."
        what = f"found {found}; {msg[:1].lower() + msg[1:]}"
    return what, f"field {loc}" if loc else "top level"
