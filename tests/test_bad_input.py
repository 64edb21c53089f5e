"""Every class of bad input: one clear line on stderr, exit code 2, no traceback, nothing written.

Each case builds its broken input as a temporary copy of small real files (two articles of XQuAD-R de/en; three
Yoruba MIRACL topics with their judged passages) plus a temporary task spec, then drives the real command line
(:func:`mlir_bench.cli.main`, in process for speed; a few cases also through the installed ``mlir-bench``
executable). The checks, for every case:

* exit code 2;
* the last line on stderr is the only ``error:`` line, it is one line, and it contains the case's expected
  fragments (the file, record or field, and what was found or expected); informational log lines before it
  (``task X: N queries``) are allowed, a traceback never;
* no result, per-query, run or figure file was written (a pre-existing result stays byte-identical), and no
  vectors of a failed model entered the cache.

The catalogue in docs/RELIABILITY.md lists the same cases. ``MLIR_BENCH_CATALOGUE=path.json pytest ...``
writes the message of every case to ``path.json``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _data import DATA  # noqa: E402
from fake_encoder import FakeEncoder, register_fakes  # noqa: E402

from mlir_bench import cli  # noqa: E402

MESSAGES: dict[str, str] = {}

LAREQA_SPEC = """name = "tiny"
family = "lareqa"
description = "two articles of XQuAD-R de/en"
license = "CC BY-SA 4.0"
citation = "test"
main_score = "map"
languages = ["de", "en"]
{extra_top}
[source]
[[source.files]]
lang = "de"
path = "xq/de.json"
{de_extra}
[[source.files]]
lang = "en"
path = "xq/en.json"
{tail}"""

MIRACL_SPEC = """name = "tiny-miracl"
family = "miracl"
description = "three Yoruba MIRACL dev topics"
license = "Apache-2.0"
citation = "test"
main_score = "ndcg@10"
main_setting = "per-language"
level = "passage"
languages = ["yo"]

[options]
split = "dev"
text_mode = "title+text"

[source]
[[source.files]]
lang = "yo"
path = "miracl/topics/topics.miracl-v1.0-yo-dev.tsv"
[[source.files]]
lang = "yo"
path = "miracl/qrels/qrels.miracl-v1.0-yo-dev.tsv"
[[source.files]]
lang = "yo"
path = "miracl/corpus/yo/{corpus}"
"""


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real inputs: 2 articles of XQuAD-R de and en; 3 Yoruba MIRACL topics, their qrels and passages."""
    if not (DATA / "xquad-r" / "de.json").exists():
        pytest.skip(f"real data not found at {DATA}; set MLIR_BENCH_DATA")
    root = tmp_path_factory.mktemp("base")
    (root / "xq").mkdir()
    for lang in ("de", "en"):
        doc = json.loads((DATA / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:2]
        (root / "xq" / f"{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    mroot = DATA / "miracl"
    topics = (mroot / "topics" / "topics.miracl-v1.0-yo-dev.tsv").read_text(encoding="utf-8").splitlines()[:3]
    qids = {t.split("\t")[0] for t in topics}
    qrels = [ln for ln in (mroot / "qrels" / "qrels.miracl-v1.0-yo-dev.tsv").read_text(encoding="utf-8").splitlines()
             if ln.split()[0] in qids]
    want = {ln.split()[2] for ln in qrels}
    passages = []
    with gzip.open(mroot / "corpus" / "yo" / "docs.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if json.loads(line)["docid"] in want:
                passages.append(line.rstrip("\n"))
    for sub in ("topics", "qrels", "corpus/yo"):
        (root / "miracl" / sub).mkdir(parents=True)
    (root / "miracl/topics/topics.miracl-v1.0-yo-dev.tsv").write_text("\n".join(topics) + "\n", encoding="utf-8")
    (root / "miracl/qrels/qrels.miracl-v1.0-yo-dev.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    (root / "miracl/corpus/yo/passages.jsonl").write_text("\n".join(passages) + "\n", encoding="utf-8")
    return root


@dataclass
class Env:
    """One case's folder: a copy of the inputs, a spec, and where outputs would go."""

    root: Path
    data: Path
    out: Path
    runs: Path
    cache: Path
    spec: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    before: dict[str, bytes] = field(default_factory=dict)  # files that exist before the run (must not change)

    def lareqa_json(self, lang: str = "de") -> dict[str, Any]:
        return json.loads((self.data / "xq" / f"{lang}.json").read_text(encoding="utf-8"))

    def put_json(self, obj: Any, lang: str = "de") -> None:
        (self.data / "xq" / f"{lang}.json").write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")

    def put_bytes(self, raw: bytes, lang: str = "de") -> None:
        (self.data / "xq" / f"{lang}.json").write_bytes(raw)

    def write_spec(self, extra_top: str = "", de_extra: str = "", tail: str = "") -> Path:
        self.spec.write_text(LAREQA_SPEC.format(extra_top=extra_top, de_extra=de_extra, tail=tail), encoding="utf-8")
        return self.spec

    def miracl(self, corpus: str = "docs.jsonl.gz", raw: bytes | None = None) -> Path:
        """Write the MIRACL corpus as ``corpus`` (compressed by suffix, or ``raw`` bytes) and its spec."""
        src = self.data / "miracl/corpus/yo/passages.jsonl"
        dest = self.data / "miracl/corpus/yo" / corpus
        if raw is None:
            raw = src.read_bytes()
            if corpus.endswith(".gz"):
                raw = gzip.compress(raw, mtime=0)
            elif corpus.endswith(".zst"):
                import zstandard

                raw = zstandard.ZstdCompressor().compress(raw)
        dest.write_bytes(raw)
        self.spec.write_text(MIRACL_SPEC.format(corpus=corpus), encoding="utf-8")
        return self.spec

    def miracl_corpus_lines(self) -> list[str]:
        return (self.data / "miracl/corpus/yo/passages.jsonl").read_text(encoding="utf-8").splitlines()

    def args(self, model: str = "fake-ok", *extra: str) -> list[str]:
        return ["run", "-m", model, "-t", str(self.spec), "--data-dir", str(self.data), "--output-dir",
                str(self.out), "--runs-dir", str(self.runs), "--cache-dir", str(self.cache), "--no-progress",
                *extra]


@pytest.fixture
def env(base: Path, tmp_path: Path) -> Env:
    data = tmp_path / "data"
    shutil.copytree(base, data)
    e = Env(tmp_path, data, tmp_path / "out", tmp_path / "out" / "runs", tmp_path / "cache", tmp_path / "tiny.toml")
    e.write_spec()
    return e


@pytest.fixture(autouse=True, scope="module")
def _fakes() -> None:
    register_fakes()


@pytest.fixture(scope="module", autouse=True)
def _catalogue() -> Any:
    yield
    target = os.environ.get("MLIR_BENCH_CATALOGUE")
    if target:
        Path(target).write_text(json.dumps(MESSAGES, ensure_ascii=False, indent=1), encoding="utf-8")


# ------------------------------------------------------------------------------------------------ driver
def run_cli(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Call the real entry point in process; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["mlir-bench", *args])
    for k, v in (extra_env or {}).items():
        monkeypatch.setenv(k, v)
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def written_files(e: Env) -> list[Path]:
    """Every file under the output folder that did not exist before the run, or changed."""
    out = []
    if e.out.exists():
        for p in e.out.rglob("*"):
            if p.is_file() and e.before.get(str(p)) != p.read_bytes():
                out.append(p)
    if e.cache.exists():
        out += [p for p in e.cache.rglob("*") if p.is_file() and p.suffix == ".vec"]
    return out


def assert_one_line_error(case: str, code: int, err: str, expect: list[str]) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines, f"{case}: nothing on stderr"
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], f"{case}: expected exactly one final error line:\n{err}"
    line = errors[0]
    for frag in expect:
        assert frag in line, f"{case}: {frag!r} not in {line!r}"
    assert code == 2, f"{case}: exit code {code}, expected 2 ({line})"
    MESSAGES[case] = line
    return line


# ------------------------------------------------------------------------------------------------ the cases
Setup = Callable[[Env], list[str]]


def _lareqa(mutate: Callable[[dict[str, Any]], None]) -> Setup:
    def setup(e: Env) -> list[str]:
        doc = e.lareqa_json()
        mutate(doc)
        e.put_json(doc)
        return e.args()
    return setup


def _para(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["data"][0]["paragraphs"][0]


def _raw(transform: Callable[[bytes], bytes]) -> Setup:
    def setup(e: Env) -> list[str]:
        path = e.data / "xq" / "de.json"
        e.put_bytes(transform(path.read_bytes()))
        return e.args()
    return setup


def _spec(text: str) -> Setup:
    def setup(e: Env) -> list[str]:
        e.spec.write_text(text, encoding="utf-8")
        return e.args()
    return setup


def _spec_sub(old: str, new: str) -> Setup:
    def setup(e: Env) -> list[str]:
        text = e.spec.read_text(encoding="utf-8")
        assert old in text
        e.spec.write_text(text.replace(old, new, 1), encoding="utf-8")
        return e.args()
    return setup


def _args(*extra: str, model: str = "fake-ok") -> Setup:
    return lambda e: e.args(model, *extra)


def _miracl(corpus: str = "docs.jsonl.gz", raw: Callable[[bytes], bytes] | None = None,
            topics: Callable[[str], str] | None = None, qrels: Callable[[str], str] | None = None,
            lines: Callable[[list[str]], list[str]] | None = None) -> Setup:
    def setup(e: Env) -> list[str]:
        if lines is not None:
            p = e.data / "miracl/corpus/yo/passages.jsonl"
            p.write_text("\n".join(lines(e.miracl_corpus_lines())) + "\n", encoding="utf-8")
        e.miracl(corpus)
        if raw is not None:
            p = e.data / "miracl/corpus/yo" / corpus
            p.write_bytes(raw(p.read_bytes()))
        for fn, name in ((topics, "topics/topics.miracl-v1.0-yo-dev.tsv"), (qrels, "qrels/qrels.miracl-v1.0-yo-dev.tsv")):
            if fn is not None:
                p = e.data / "miracl" / name
                p.write_text(fn(p.read_text(encoding="utf-8")), encoding="utf-8")
        return e.args()
    return setup


def _corrupt_middle(raw: bytes) -> bytes:
    b = bytearray(raw)
    mid = len(b) // 2
    b[mid:mid + 64] = bytes((x * 37 + 11) % 256 for x in range(64))
    return bytes(b)


def _wrong_sha(e: Env) -> list[str]:
    e.write_spec(de_extra='sha256 = "' + "0" * 64 + '"')
    return e.args()


def _counts(e: Env) -> list[str]:
    e.write_spec(tail='\n[expected]\ncandidates = { de = 9999 }\n')
    return e.args()


def _download_fails(e: Env) -> list[str]:
    (e.data / "xq" / "de.json").unlink()
    e.write_spec(de_extra='url = "http://127.0.0.1:9/de.json"')
    return e.args()


def _missing_file(e: Env) -> list[str]:
    (e.data / "xq" / "de.json").unlink()
    return e.args()


def _dir_not_file(e: Env) -> list[str]:
    (e.data / "xq" / "de.json").unlink()
    (e.data / "xq" / "de.json").mkdir()
    return e.args()


def _no_file_for_lang(e: Env) -> list[str]:
    text = e.spec.read_text(encoding="utf-8").replace('languages = ["de", "en"]', 'languages = ["de", "en", "fr"]')
    e.spec.write_text(text, encoding="utf-8")
    return e.args()


def _tasks_dir(content: str, *, duplicate: bool = False) -> Setup:
    def setup(e: Env) -> list[str]:
        d = e.root / "tasks"
        d.mkdir()
        (d / "a.toml").write_text(content, encoding="utf-8")
        if duplicate:
            (d / "b.toml").write_text(content, encoding="utf-8")
        e.extra_env["MLIR_BENCH_TASKS"] = str(d)
        args = e.args()
        args[args.index("-t") + 1] = "tiny"
        return args
    return setup


def _existing_result(content: bytes) -> Setup:
    def setup(e: Env) -> list[str]:
        e.out.mkdir(parents=True)
        p = e.out / "tiny__fake-ok__sentence.json"
        p.write_bytes(content)
        e.before[str(p)] = content
        return e.args()
    return setup


def _under_a_file(option: str) -> Setup:
    def setup(e: Env) -> list[str]:
        blocker = e.root / "a-file"
        blocker.write_text("x")
        args = e.args()
        target = str(blocker / "sub")
        if option in args:
            args[args.index(option) + 1] = target
        else:
            args += [option, target]
        return args
    return setup


def _output_under_file(e: Env) -> list[str]:
    blocker = e.root / "a-file"
    blocker.write_text("x")
    e.out = blocker / "results"
    e.runs = e.root / "runs"
    return e.args()


def _other(*args: str) -> Setup:
    """Another command than run; ``{out}``, ``{cache}`` and ``{root}`` in ``args`` become the case's folders."""
    def setup(e: Env) -> list[str]:
        e.cache.mkdir(parents=True, exist_ok=True)  # an (empty) embedding cache exists
        return [a.format(out=e.out, cache=e.cache, root=e.root) for a in args]
    return setup


def _mteb_score(value: Any) -> Setup:
    """An mteb MIRACLRetrieval result (the real fixture of tests/test_mteb.py) whose yo nDCG@10 is ``value``."""
    def setup(e: Env) -> list[str]:
        pytest.importorskip("mteb")
        src = Path(__file__).parent / "fixtures" / "mteb" / "results"
        shutil.copytree(src, e.root / "mteb")
        f = next((e.root / "mteb").rglob("MIRACLRetrieval.json"))
        raw = json.loads(f.read_text(encoding="utf-8"))
        raw["scores"]["dev"][0]["ndcg_at_10"] = value
        f.write_text(json.dumps(raw), encoding="utf-8")
        return ["import-mteb", str(f), "--output-dir", str(e.out)]
    return setup


CASES: dict[str, tuple[Setup, list[str]]] = {
    # -- data files: missing, truncated, corrupt JSON --------------------------------------------------------
    "json-missing-file": (_missing_file, ["de.json", "missing"]),
    "json-missing-download-fails": (_download_fails, ["de.json", "could not be downloaded", "127.0.0.1"]),
    "json-path-is-a-folder": (_dir_not_file, ["de.json", "not a regular file"]),
    "json-empty-file": (_raw(lambda b: b""), ["de.json", "invalid JSON", "line 1"]),
    "json-truncated": (_raw(lambda b: b[: len(b) // 2]), ["de.json", "invalid JSON", "line"]),
    "json-corrupt-bytes": (_raw(_corrupt_middle), ["de.json", "expected JSON"]),
    "json-not-utf8": (_raw(lambda b: b.replace("ü".encode(), b"\xfc")), ["de.json", "not UTF-8", "expected JSON"]),
    "json-nested-too-deep": (_raw(lambda b: b"[" * 200_000 + b"]" * 200_000), ["de.json", "nested too deeply"]),
    # -- valid JSON, wrong schema ------------------------------------------------------------------------------
    "schema-top-level-list": (_raw(lambda b: b"[1, 2, 3]"), ["de.json", "top level", "'data'", "expected"]),
    "schema-missing-data": (_lareqa(lambda d: d.pop("data")), ["de.json", "top level", "missing field 'data'"]),
    "schema-wrong-type": (_lareqa(lambda d: _para(d).update(context=42)),
                          ["de.json", "data[0].paragraphs[0]", "'context' is int, expected str"]),
    "schema-record-not-object": (_lareqa(lambda d: _para(d)["qas"].__setitem__(0, "a question")),
                                 ["de.json", "qas[0]", "missing field 'id'"]),
    "schema-sentence-count": (_lareqa(lambda d: _para(d)["sentence_breaks"].pop()),
                              ["de.json", "paragraphs[0]", "sentence_breaks, expected equal"]),
    "schema-sentence-span-outside": (_lareqa(lambda d: _para(d)["sentence_breaks"].__setitem__(0, [0, 10**6])),
                                     ["de.json", "sentence_breaks[0]", "within the context"]),
    "schema-no-answers": (_lareqa(lambda d: _para(d)["qas"][0].update(answers=[])),
                          ["de.json", "qas[0]", "no answers, expected at least one"]),
    "schema-no-records": (_lareqa(lambda d: d.update(data=[])), ["de.json", "no sentences", "expected at least one"]),
    # -- answer offsets ----------------------------------------------------------------------------------------
    "offset-past-end": (_lareqa(lambda d: _para(d)["qas"][0]["answers"][0].update(answer_start=10**6)),
                        ["de.json", "qas[0]", "answer_start 1000000 is outside the context"]),
    "offset-negative": (_lareqa(lambda d: _para(d)["qas"][0]["answers"][0].update(answer_start=-1)),
                        ["de.json", "answer_start -1 is outside the context"]),
    "offset-not-int": (_lareqa(lambda d: _para(d)["qas"][0]["answers"][0].update(answer_start="12")),
                       ["de.json", "answers[0]", "'answer_start' is str, expected int"]),
    "offset-boolean": (_lareqa(lambda d: _para(d)["qas"][0]["answers"][0].update(answer_start=True)),
                       ["de.json", "'answer_start' is bool, expected int"]),
    "offset-in-no-sentence": (_lareqa(lambda d: _para(d).update(
        sentence_breaks=[[0, 1], *_para(d)["sentence_breaks"][1:]], qas=[
            {**_para(d)["qas"][0], "answers": [{"answer_start": 1, "text": "x"}]}] + _para(d)["qas"][1:])),
        ["de.json", "falls in no sentence span"]),
    # -- duplicate ids, empty texts, unknown languages --------------------------------------------------------
    "duplicate-question-id": (_lareqa(lambda d: _para(d)["qas"][1].update(id=_para(d)["qas"][0]["id"])),
                              ["de.json", "qas[1]", "duplicate question id", "expected unique ids"]),
    "empty-question": (_lareqa(lambda d: _para(d)["qas"][0].update(question="   ")),
                       ["de.json", "question text is empty"]),
    "empty-sentence": (_lareqa(lambda d: _para(d)["sentences"].__setitem__(0, "")),
                       ["de.json", "sentences[0]", "expected non-empty text"]),
    "checksum-mismatch": (_wrong_sha, ["de.json", "sha256 is", "expected 0000"]),
    "published-count-mismatch": (_counts, ["de.json", "candidate sentences, expected 9999"]),
    # -- task spec files ---------------------------------------------------------------------------------------
    "spec-missing": (lambda e: (e.spec.unlink(), e.args())[1], ["tiny.toml", "cannot read task file"]),
    "spec-invalid-toml": (_spec('name = "tiny\n'), ["tiny.toml", "invalid TOML", "line 1"]),
    "spec-not-utf8": (lambda e: (e.spec.write_bytes(b"name = '\xff'\n"), e.args())[1], ["tiny.toml", "invalid TOML"]),
    "spec-missing-field": (_spec_sub('citation = "test"\n', ""), ["tiny.toml", "field citation", "missing"]),
    "spec-unknown-field": (_spec_sub('license =', 'licence = "x"\nlicense ='),
                           ["tiny.toml", "field licence", "extra inputs are not permitted"]),
    "spec-wrong-type": (_spec_sub('languages = ["de", "en"]', 'languages = "de"'),
                        ["tiny.toml", "field languages", "found 'de'", "valid list"]),
    "spec-bad-name": (_spec_sub('name = "tiny"', 'name = "Tiny Task"'), ["tiny.toml", "field name", "'Tiny Task'"]),
    "spec-unknown-family": (_spec_sub('family = "lareqa"', 'family = "squad"'),
                            ["tiny.toml", "field family", "found 'squad'"]),
    "spec-main-score-not-a-metric": (_spec_sub('main_score = "map"', 'main_score = "f1"'),
                                     ["tiny.toml", "field main_score", "unknown metric 'f1'", "expected one of"]),
    "spec-bad-sha256": (_spec_sub('path = "xq/de.json"', 'path = "xq/de.json"\nsha256 = "abc"'),
                        ["tiny.toml", "field source.files.0.sha256", "found 'abc'"]),
    "spec-unknown-language": (_spec_sub('languages = ["de", "en"]', 'languages = ["de", "en", "xx"]'),
                              ["tiny.toml", "field languages", "unknown language code(s) ['xx']", "ISO 639-1"]),
    "spec-duplicate-language": (_spec_sub('languages = ["de", "en"]', 'languages = ["de", "en", "de"]'),
                                ["tiny.toml", "field languages", "['de'] listed twice"]),
    "spec-file-language-not-listed": (_spec_sub('lang = "en"', 'lang = "es"'),
                                      ["tiny.toml", "xq/en.json", "'es'", "not in languages"]),
    "spec-no-file-for-language": (_no_file_for_lang, ["tiny.toml", "no source file for language 'fr'"]),
    "spec-bad-in-tasks-folder": (_tasks_dir('name = "tiny"\n'), ["a.toml", "field family", "missing"]),
    "spec-duplicate-task-name": (_tasks_dir(LAREQA_SPEC.format(extra_top="", de_extra="", tail=""), duplicate=True),
                                 ["b.toml", "task name 'tiny' is already defined", "a.toml"]),
    "unknown-task-name": (lambda e: [*e.args()[:3], "-t", "no-such-task", *e.args()[5:]],
                          ["unknown task 'no-such-task'", "known tasks"]),
    # -- MIRACL: TSV topics, TREC qrels, JSONL corpus (gz / zst) -----------------------------------------------
    "gz-truncated": (_miracl(raw=lambda b: b[: len(b) // 2]), ["docs.jsonl.gz", "gzip stream is truncated"]),
    "gz-corrupt": (_miracl(raw=_corrupt_middle), ["docs.jsonl.gz", "gzip"]),
    "gz-not-gzip": (_miracl(raw=lambda b: b"docid title text\n"), ["docs.jsonl.gz", "not a valid gzip file"]),
    "gz-empty": (_miracl(raw=lambda b: b""), ["docs.jsonl.gz", "empty, expected a gzip stream"]),
    "zst-truncated": (_miracl("docs.jsonl.zst", raw=lambda b: b[: len(b) // 2]),
                      ["docs.jsonl.zst", "zstd stream is truncated"]),
    "zst-corrupt": (_miracl("docs.jsonl.zst", raw=lambda b: b[:4] + b"\xff" * 16 + b[20:]),
                    ["docs.jsonl.zst", "zstd data is corrupt"]),
    "zst-not-zstd": (_miracl("docs.jsonl.zst", raw=lambda b: b"plain text\n"), ["docs.jsonl.zst", "corrupt"]),
    "jsonl-invalid-line": (_miracl(lines=lambda ls: [*ls[:2], "{not json", *ls[2:]]),
                           ["docs.jsonl.gz", "line 3", "invalid JSON"]),
    "jsonl-missing-field": (_miracl(lines=lambda ls: [*ls, json.dumps({"docid": "1#1", "title": "t"})]),
                            ["docs.jsonl.gz", "field 'text' is missing, expected a string"]),
    "duplicate-document-id": (_miracl(lines=lambda ls: [*ls, ls[0]]), ["passage id", "appears twice"]),
    "qrels-name-missing-document": (_miracl(qrels=lambda t: t + t.split()[0] + "\tQ0\t999999#9\t1\n"),
                                    ["relevant passage", "not in the corpus", "999999#9"]),
    "qrels-bad-relevance": (_miracl(qrels=lambda t: t + t.split()[0] + "\tQ0\t1#1\tyes\n"),
                            ["qrels.miracl-v1.0-yo-dev.tsv", "relevance 'yes' is not an integer"]),
    "qrels-unknown-query": (_miracl(qrels=lambda t: t + "no-such-q\tQ0\t1#1\t1\n"),
                            ["qrels.miracl-v1.0-yo-dev.tsv", "not in the topics", "no-such-q"]),
    "topics-malformed-line": (_miracl(topics=lambda t: t + "just-an-id\n"),
                              ["topics.miracl-v1.0-yo-dev.tsv", "line 4", "expected 'qid<TAB>query'"]),
    "topics-duplicate-query-id": (_miracl(topics=lambda t: t + t.splitlines()[0] + "\n"),
                                  ["topics.miracl-v1.0-yo-dev.tsv", "line 4", "appears twice"]),
    "topics-empty-query": (_miracl(topics=lambda t: t + "extra-q\t \n"),
                           ["tiny-miracl", "query yo/extra-q", "expected non-empty text"]),
    # -- models ------------------------------------------------------------------------------------------------
    "model-unknown-name": (_args(model="nosuch:model"), ["unknown model 'nosuch:model'", "registered models"]),
    "model-near-miss-name": (_args(model="bm26"), ["unknown model 'bm26'; did you mean 'bm25'?"]),
    "model-returns-nan": (_args(model="fake-nan"), ["fake-nan", "NaN/inf", "expected finite vectors"]),
    "model-wrong-dimension": (_args(model="fake-dim"), ["fake-dim", "dimension 15", "expected 16"]),
    "model-wrong-count": (_args(model="fake-count"), ["fake-count", "texts, expected (", "dim)"]),
    "model-wrong-type": (_args(model="fake-list"), ["fake-list", "returned list", "expected a numpy array"]),
    # -- outputs -----------------------------------------------------------------------------------------------
    "output-dir-unwritable": (_output_under_file, ["results", "not writable", "Not a directory"]),
    "runs-dir-unwritable": (_under_a_file("--runs-dir"), ["--runs-dir", "not a writable folder"]),
    "save-embeddings-unwritable": (_under_a_file("--save-embeddings"), ["--save-embeddings", "not a writable folder"]),
    "cache-dir-unwritable": (_under_a_file("--cache-dir"), ["a-file/sub", "cannot write here", "writable folder"]),
    "existing-result-corrupt": (_existing_result(b'{"schema_version": 1, "ta'),
                                ["tiny__fake-ok__sentence.json", "not valid JSON", "--overwrite"]),
    "existing-result-wrong-schema": (_existing_result(b'{"schema_version": 99}'),
                                     ["tiny__fake-ok__sentence.json", "schema_version 99; this version reads 1, 2"]),
    # -- command line ------------------------------------------------------------------------------------------
    "cli-missing-model": (lambda e: [a for a in e.args() if a not in ("-m", "fake-ok")], ["Missing option", "--model"]),
    "cli-unknown-option": (_args("--bogus"), ["No such option: --bogus"]),
    "cli-unknown-command": (lambda e: ["evaluate", "-m", "x"], ["No such command 'evaluate'"]),
    "cli-not-an-integer": (_args("--k", "ten"), ["'--k'", "valid integer", "'ten'"]),
    "cli-out-of-range": (_args("--batch-size", "0"), ["'--batch-size'", "greater than or equal to 1", "'0'"]),
    "cli-unknown-metric": (_args("--metric", "f1"), ["unknown metric 'f1'", "expected one of"]),
    "cli-bad-runs-value": (_args("--runs", "some"), ["--runs 'some'", "expected main, all or none"]),
    "cli-bad-text-mode": (_args("--text-mode", "para"), ["text mode 'para'", "expected one of"]),
    "cli-unknown-language": (_args("--languages", "de,xx"), ["task tiny has no language(s) ['xx']", "it has de, en"]),
    "cli-bad-dtype": (_args("--dtype", "int8"), ["unsupported dtype 'int8'"]),
    "cli-bad-device": (_args("--device", "tpu"), ["unknown device 'tpu'", "expected auto, cpu, cuda, cuda:N or mps"]),
    "cli-unavailable-device": (_args("--device", "cuda:7"), ["device cuda:7 is not available", "torch"]),
    "cli-bad-engine": (_args("--engine", "tensorrt"), ["unknown engine 'tensorrt'", "expected torch, onnx, openvino"]),
    "cli-bad-quantize": (_args("--quantize", "int4"), ["unknown quantization 'int4'", "expected none, int8"]),
    "cli-engine-bf16-onnx": (_args("--engine", "onnx", "--dtype", "bf16"), ["engine onnx runs float32 only"]),
    "cli-engine-not-supported": (_args("--engine", "openvino"), ["fake-ok", "does not support --engine openvino"]),
    "cli-missing-option-value": (lambda e: [*e.args(), "--k"], ["'--k'", "requires an argument"]),
    # empty lists never mean "nothing" (exit 0) or "all"
    "cli-empty-model": (_args(model=""), ["--model ''", "names nothing", "expected one or more"]),
    "cli-empty-model-commas": (_args(model=","), ["--model ','", "names nothing"]),
    "cli-empty-task": (lambda e: [*e.args()[:3], "-t", "", *e.args()[5:]], ["--task ''", "names nothing"]),
    "cli-empty-languages": (_args("--languages", ""), ["--languages ''", "names nothing"]),
    "cli-empty-languages-commas": (_args("--languages", ","), ["--languages ','", "names nothing"]),
    # --k is checked before any work (it used to fail after encoding and search, or run out of memory)
    "cli-k-too-small-for-bias": (_args("--k", "19"), ["--k 19", "mrc@20", "expected --k >= 20"]),
    "cli-k-too-large": (_args("--k", "100000000"), ["--k 100000000", "at most 10,000"]),
    # other commands
    "compare-unknown-test": (_other("compare", "-m", "a,b", "--results-dir", "{out}", "--test", "foo"),
                             ["--test 'foo'", "expected one of fisher, student"]),
    "compare-alpha-out-of-range": (_other("compare", "-m", "a,b", "--results-dir", "{out}", "--alpha", "5"),
                                   ["--alpha 5.0", "strictly between 0 and 1"]),
    "leaderboard-unknown-test": (_other("leaderboard", "--results-dir", "{out}", "--out", "{out}/lb.html", "--test",
                                        "foo"), ["--test 'foo'", "expected one of fisher, student"]),
    "leaderboard-alpha-out-of-range": (_other("leaderboard", "--results-dir", "{out}", "--out", "{out}/lb.html",
                                              "--alpha", "0"), ["--alpha 0.0", "strictly between 0 and 1"]),
    "cache-verify-missing-folder": (_other("cache", "verify", "--cache-dir", "{root}/no-cache"),
                                    ["no-cache", "embedding cache folder does not exist"]),
    "cache-info-missing-folder": (_other("cache", "info", "--cache-dir", "{root}/no-cache"),
                                  ["no-cache", "embedding cache folder does not exist"]),
    "cache-verify-empty-key": (_other("cache", "verify", "--cache-dir", "{cache}", "--key", ""),
                               ["--key ''", "names nothing"]),
    "check-empty-tag": (_other("check", "--tag", ","), ["--tag ','", "names nothing"]),
    "import-mteb-score-out-of-range": (_mteb_score(-5), ["MIRACLRetrieval.json", "(dev/yo)", "ndcg_at_10 is -5",
                                                        "expected a finite number in [0, 1]"]),
    "import-mteb-score-not-a-number": (_mteb_score("0.5"), ["MIRACLRetrieval.json", "ndcg_at_10 is '0.5' (str)"]),
}


# Task data that passed its file reader but not the generic check (every family goes through it): built by
# wrapping the LAReQA builder.
def _dup_doc(t: Any) -> None:
    t.docs.ids[1] = t.docs.ids[0]


def _dup_query(t: Any) -> None:
    t.queries.ids[1] = t.queries.ids[0]


def _bad_lang(t: Any) -> None:
    t.docs.langs[0] = "xx"


def _empty_doc(t: Any) -> None:
    t.docs.texts[2] = " "


def _qrels_missing_doc(t: Any) -> None:
    t.qrels[t.queries.ids[0]]["de/99.99.99"] = 1


def _qrels_unknown_query(t: Any) -> None:
    t.qrels["de/no-such-question"] = {t.docs.ids[0]: 1}


def _qrels_bad_relevance(t: Any) -> None:
    t.qrels[t.queries.ids[0]] = {t.docs.ids[0]: "1"}


TASKDATA_CASES: dict[str, tuple[Callable[[Any], None], list[str]]] = {
    "taskdata-duplicate-document-id": (_dup_doc, ["task tiny", "duplicate document id", "expected unique ids"]),
    "taskdata-duplicate-query-id": (_dup_query, ["task tiny", "duplicate query id"]),
    "taskdata-unknown-language": (_bad_lang, ["task tiny", "language 'xx' is not a known ISO 639-1 code"]),
    "taskdata-empty-text": (_empty_doc, ["task tiny", "document de/", "expected non-empty text"]),
    "taskdata-qrels-missing-document": (_qrels_missing_doc, ["task tiny", "'de/99.99.99'", "not in the pool"]),
    "taskdata-qrels-unknown-query": (_qrels_unknown_query, ["task tiny", "'de/no-such-question'", "not among"]),
    "taskdata-qrels-bad-relevance": (_qrels_bad_relevance, ["task tiny", "relevance", "expected an integer"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case: str, env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    setup, expect = CASES[case]
    args = setup(env)
    code, _, err = run_cli(args, capsys, monkeypatch, env.extra_env)
    assert_one_line_error(case, code, err, expect)
    assert written_files(env) == [], f"{case}: files were written"


@pytest.mark.parametrize("case", list(TASKDATA_CASES))
def test_bad_task_data(case: str, env: Env, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    from mlir_bench.tasks import lareqa, registry

    corrupt, expect = TASKDATA_CASES[case]

    def build(spec: Any, **kw: Any) -> Any:
        task = lareqa.build(spec, **kw)
        corrupt(task)
        return task

    monkeypatch.setattr(registry, "_builders", lambda: {"lareqa": build})
    code, _, err = run_cli(env.args(), capsys, monkeypatch)
    assert_one_line_error(case, code, err, expect)
    assert written_files(env) == []


# ------------------------------------------------------------------------------------------------ controls
@pytest.mark.parametrize("fixture", ["lareqa", "miracl-gz", "miracl-zst"])
def test_fixtures_are_valid(fixture: str, env: Env, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The unbroken inputs run (so every failure above is caused by the one thing each case breaks)."""
    if fixture != "lareqa":
        env.miracl("docs.jsonl.gz" if fixture == "miracl-gz" else "docs.jsonl.zst")
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none"), capsys, monkeypatch)
    assert code == 0, err
    assert len(list(env.out.glob("*.json"))) == 1


def test_existing_good_result_is_reused(env: Env, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none"), capsys, monkeypatch)
    assert code == 0, err
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none"), capsys, monkeypatch)
    assert code == 0 and "reusing it" in err


def test_existing_result_of_another_dtype_is_not_reused(env: Env, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The file name carries no dtype: a bfloat16 request must not return the float32 result as its own."""
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none"), capsys, monkeypatch)
    assert code == 0, err
    (result,) = env.out.glob("*.json")
    before = result.read_bytes()
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none", "--dtype", "bf16"), capsys, monkeypatch)
    assert_one_line_error("dtype-mismatch", code, err, ["holds another run's result",
                                                      "model dtype 'float32' (asked: 'bfloat16')", "--overwrite",
                                                      result.name])
    assert result.read_bytes() == before
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none", "--dtype", "fp32"), capsys, monkeypatch)
    assert code == 0 and "reusing it" in err


def test_existing_result_of_another_engine_is_not_reused(env: Env, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The file name carries no engine either: an onnx (or int8) request must not return the torch result."""
    from dataclasses import replace

    from mlir_bench.encoders.engines import ENGINES
    from mlir_bench.encoders.registry import register, registered_names

    def load(opts: Any) -> FakeEncoder:  # a model that honours --engine/--quantize (same vectors: a fake)
        enc = FakeEncoder("ok", 0.0)
        enc.meta = replace(enc.meta, name="fake-ok-engines", engine=opts.engine, quantization=opts.quantization)
        return enc

    if "fake-ok-engines" not in registered_names():
        register("fake-ok-engines", load, replace(FakeEncoder("ok", 0.0).meta, name="fake-ok-engines"),
                 engines=ENGINES)
    code, _, err = run_cli(env.args("fake-ok-engines", "--runs", "none"), capsys, monkeypatch)
    assert code == 0, err
    (result,) = env.out.glob("*.json")
    before = result.read_bytes()
    for extra, fragment in ((["--engine", "onnx"], "model engine 'torch' (asked: 'onnx')"),
                            (["--quantize", "int8"], "model quantization 'none' (asked: 'int8')")):
        code, _, err = run_cli(env.args("fake-ok-engines", "--runs", "none", *extra), capsys, monkeypatch)
        assert_one_line_error(f"engine-mismatch{extra[0]}", code, err, ["holds another run's result", fragment,
                                                                       "--overwrite", result.name])
        assert result.read_bytes() == before
    code, _, err = run_cli(env.args("fake-ok-engines", "--runs", "none", "--engine", "torch"), capsys, monkeypatch)
    assert code == 0 and "reusing it" in err


# ------------------------------------------------------------------------------------------------ the machine
def _tmp_files(e: Env) -> list[Path]:
    return [p for d in (e.out, e.cache) if d.exists() for p in d.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("where", ["cache", "results", "runs"])
def test_full_or_read_only_disk_is_one_line_exit_1(where: str, env: Env, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC (or EROFS) while writing the cache, the result or a run file: one line naming the file, exit 1.

    The disk is made full by making the write path fail: ``os.fsync`` for every file (the first write of a run
    is to the cache), or ``os.replace`` onto a result or run file (as the real call reports it: both names).
    """
    import errno

    code_err = errno.EROFS if where == "runs" else errno.ENOSPC
    if where == "cache":
        def fsync(fd: int) -> None:
            raise OSError(code_err, os.strerror(code_err))
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        real_replace = os.replace
        target = env.out if where == "results" else env.runs

        def replace(src: Any, dst: Any, *a: Any, **k: Any) -> None:
            if Path(dst).parent == target or (where == "runs" and target in Path(dst).parents):
                raise OSError(code_err, os.strerror(code_err), str(src), None, str(dst))
            real_replace(src, dst, *a, **k)
        monkeypatch.setattr(os, "replace", replace)
    code, _, err = run_cli(env.args("fake-ok"), capsys, monkeypatch)
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and sum(ln.startswith("error:") for ln in lines) == 1, err
    line = lines[-1]
    assert code == 1, (code, err)
    assert ("no space left on the device (ENOSPC)" if where != "runs" else "read-only file system (EROFS)") in line
    named = line.removeprefix("error: ").split(": ")[0]
    assert Path(named).parent.parent == env.cache if where == "cache" else (
        Path(named).parent == env.out if where == "results" else env.runs in Path(named).parents), line
    assert not Path(named).name.startswith("."), line  # the file itself, not its hidden temporary file
    assert _tmp_files(env) == [], "a partial temporary file was left"
    assert not list(env.out.glob("*.json")), "a result was written"


def test_damaged_cache_shard_header_is_re_encoded_by_run(env: Env, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A flipped bit in a shard's header key ("sha256" -> "rha256") used to crash `run` with KeyError."""
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none"), capsys, monkeypatch)
    assert code == 0, err
    (result,) = env.out.glob("*.json")
    first = json.loads(result.read_text(encoding="utf-8"))
    shard = sorted(env.cache.rglob("*.vec"))[0]
    raw = bytearray(shard.read_bytes())
    i = raw.index(b'"sha256"') + 1
    raw[i] ^= 0x01
    shard.write_bytes(bytes(raw))
    code, _, err = run_cli(env.args("fake-ok", "--runs", "none", "--overwrite"), capsys, monkeypatch)
    assert code == 0 and "Traceback" not in err, err
    assert f"warning: embedding cache: ignoring corrupt shard {shard}" in err
    assert shard.with_name(shard.name + ".corrupt").exists()
    again = json.loads(result.read_text(encoding="utf-8"))
    assert again["cells"] == first["cells"] and again["settings"] == first["settings"]


# ------------------------------------------------------------------------------------------------ real process
@pytest.mark.parametrize("case", ["json-truncated", "spec-unknown-language", "cli-out-of-range"])
def test_bad_input_real_process(case: str, env: Env) -> None:
    """The installed entry point, as a user runs it: exit 2, one stderr line, no traceback, nothing written."""
    setup, expect = CASES[case]
    args = ["bm25" if a == "fake-ok" else a for a in setup(env)]  # the fakes are not registered out of process
    exe = shutil.which("mlir-bench")
    cmd = [exe, *args] if exe else [sys.executable, "-c", "from mlir_bench.cli import main; main()", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "300"})
    assert_one_line_error(case, proc.returncode, proc.stderr, expect)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert written_files(env) == []
