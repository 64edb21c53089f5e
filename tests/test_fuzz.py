"""Property tests (hypothesis): the loaders and the task-spec parser either parse or raise a one-line DataError.

Never any other exception (KeyError, TypeError, IndexError, RecursionError, zlib.error, ...): whatever the
bytes, a bad file must end in the CLI's one-line message, not a traceback. Inputs are random bytes, random
JSON/TOML structures, and single-field mutations of a valid document (the likeliest real damage).
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _data import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlir_bench.data import miracl
from mlir_bench.data.lareqa import read_lareqa
from mlir_bench.data.readers import iter_jsonl, iter_lines
from mlir_bench.errors import DataError
from mlir_bench.tasks.spec import TaskSpec

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)
TMP = Path(tempfile.mkdtemp(prefix="mlir-bench-fuzz-"))

KEYS = ["data", "paragraphs", "context", "sentences", "sentence_breaks", "qas", "id", "question", "answers",
        "answer_start", "text", "title", "version"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner,
                                            max_size=5)),
    max_leaves=25,
)

VALID = {
    "version": "1.1",
    "data": [{"title": "t", "paragraphs": [{
        "context": "Alpha beta. Gamma delta.",
        "sentences": ["Alpha beta.", "Gamma delta."],
        "sentence_breaks": [[0, 11], [12, 24]],
        "qas": [{"id": "q1", "question": "What?", "answers": [{"answer_start": 13, "text": "amma"}]},
                {"id": "q2", "question": "Who?", "answers": [{"answer_start": 0, "text": "Alpha"}]}],
    }]}],
}


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path inside a JSON value."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


LAREQA_PATHS = _paths(VALID)[1:]


def _write(name: str, raw: bytes) -> Path:
    p = TMP / name
    p.write_bytes(raw)
    return p


def _check_lareqa(raw: bytes) -> None:
    path = _write("fuzz.json", raw)
    try:
        parsed = read_lareqa(path)
    except DataError as exc:
        assert str(path) in str(exc)  # the message names the file
        return
    # a parse that succeeds satisfies what task construction relies on
    assert parsed.sentences
    for q in parsed.questions:
        assert q.text.strip() and q.qid
        n = sum(1 for s in parsed.sentences if (s.article, s.paragraph) == (q.article, q.paragraph))
        assert 0 <= q.answer_sentence < n


@FUZZ
@given(st.binary(max_size=300))
def test_lareqa_random_bytes(raw: bytes) -> None:
    _check_lareqa(raw)


@FUZZ
@given(json_values)
def test_lareqa_random_json(value: Any) -> None:
    _check_lareqa(json.dumps(value).encode())


@FUZZ
@given(st.sampled_from(LAREQA_PATHS), json_values)
def test_lareqa_one_field_mutated(path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(VALID)
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    _check_lareqa(json.dumps(doc).encode())


@FUZZ
@given(st.sampled_from(LAREQA_PATHS))
def test_lareqa_one_field_deleted(path: tuple[Any, ...]) -> None:
    doc = copy.deepcopy(VALID)
    target = doc
    for k in path[:-1]:
        target = target[k]
    del target[path[-1]]
    _check_lareqa(json.dumps(doc).encode())


@FUZZ
@given(st.integers(0, len(json.dumps(VALID)) - 1))
def test_lareqa_truncated(n: int) -> None:
    _check_lareqa(json.dumps(VALID).encode()[:n])


def test_lareqa_valid_control() -> None:
    parsed = read_lareqa(_write("valid.json", json.dumps(VALID).encode()))
    assert [q.answer_sentence for q in parsed.questions] == [1, 0]


# ------------------------------------------------------------------------------------------------ task specs
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(d: dict[str, Any]) -> str:
    """A minimal TOML writer (every value inline) for fuzzing; None values are left out."""
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in d.items() if v is not None)


def _no_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _no_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_no_none(x) for x in v if x is not None]
    return v


SPEC = {
    "name": "fuzz", "family": "lareqa", "description": "d", "license": "l", "citation": "c", "main_score": "map",
    "main_setting": "multi", "level": "sentence", "languages": ["de", "en"],
    "source": {"files": [{"lang": "de", "path": "a/de.json", "sha256": "0" * 64, "bytes": 10},
                         {"lang": "en", "path": "a/en.json"}]},
    "expected": {"pool": 3, "questions": {"de": 1}},
    "options": {"k": 1},
}
SPEC_PATHS = _paths(SPEC)[1:]
SPEC_KEYS = [*SPEC, "files", "lang", "path", "sha256", "bytes", "url", "pool", "questions", "candidates"]
toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=10),
              st.sampled_from(["de", "en", "xx", "lareqa", "multi", "0" * 64])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=5)), inner,
                                            max_size=4)),
    max_leaves=15,
)


def _check_spec(text: str | bytes) -> None:
    path = _write("fuzz.toml", text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        spec = TaskSpec.from_file(path)
    except DataError as exc:
        assert str(path) in str(exc)
        return
    assert spec.languages and spec.source.files


def test_spec_valid_control() -> None:
    assert TaskSpec.from_file(_write("valid.toml", to_toml(SPEC).encode())).name == "fuzz"


@FUZZ
@given(st.binary(max_size=200))
def test_spec_random_bytes(raw: bytes) -> None:
    _check_spec(raw)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list('abc="[]{}.,=\n \\#\'0123-_tuefals')), max_size=120))
def test_spec_random_toml_like_text(text: str) -> None:
    _check_spec(text)


@FUZZ
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), toml_values, max_size=8))
def test_spec_random_structure(d: dict[str, Any]) -> None:
    _check_spec(to_toml(_no_none(d)))


@FUZZ
@given(st.sampled_from(SPEC_PATHS), toml_values)
def test_spec_one_field_mutated(path: tuple[Any, ...], value: Any) -> None:
    d = copy.deepcopy(SPEC)
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    _check_spec(to_toml(_no_none(d)))


@FUZZ
@given(st.sampled_from(SPEC_PATHS))
def test_spec_one_field_deleted(path: tuple[Any, ...]) -> None:
    d = copy.deepcopy(SPEC)
    target = d
    for k in path[:-1]:
        target = target[k]
    del target[path[-1]]
    _check_spec(to_toml(d))


# ------------------------------------------------------------------------------------------------ line readers
LINES = "\n".join(json.dumps({"docid": f"{i}#0", "title": "t", "text": f"ẹ̀kọ́ {i}"}, ensure_ascii=False)
                  for i in range(200)).encode()


def _compressed(kind: str) -> bytes:
    if kind == "gz":
        return gzip.compress(LINES, mtime=0)
    if kind == "zst":
        zstandard = pytest.importorskip("zstandard")
        return zstandard.ZstdCompressor().compress(LINES)
    return LINES


def _check_lines(name: str, raw: bytes) -> None:
    path = _write(name, raw)
    try:
        n = sum(1 for _ in iter_jsonl(path))
    except DataError as exc:
        assert str(path) in str(exc)
        return
    assert n >= 0


@FUZZ
@given(st.sampled_from(["gz", "zst", "jsonl"]), st.data())
def test_readers_truncated_or_flipped(kind: str, data: st.DataObject) -> None:
    """A compressed corpus cut anywhere, or with one byte changed, reads fully or fails with a DataError."""
    raw = bytearray(_compressed(kind))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    _check_lines(f"fuzz.{kind}", bytes(raw))


def test_readers_truncation_is_never_silent() -> None:
    """Every strict prefix of a .gz or .zst file is an error (zstandard's stream reader would accept them)."""
    for kind in ("gz", "zst"):
        raw = _compressed(kind)
        for n in range(0, len(raw), max(1, len(raw) // 97)):
            with pytest.raises(DataError):
                list(iter_lines(_write(f"cut.{kind}", raw[:n])))
        assert sum(1 for _ in iter_jsonl(_write(f"whole.{kind}", raw))) == 200


@FUZZ
@given(st.sampled_from(["gz", "zst", "txt"]), st.binary(max_size=200))
def test_readers_random_bytes(kind: str, raw: bytes) -> None:
    _check_lines(f"fuzz.{kind}", raw)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab1#Q0 \t\n\r\x00é")), max_size=80))
def test_miracl_topics_and_qrels_text(text: str) -> None:
    raw = text.encode("utf-8")
    for reader in (miracl.read_topics, miracl.read_qrels):
        path = _write("fuzz.tsv", raw)
        try:
            reader(path)
        except DataError as exc:
            assert str(path) in str(exc)


@FUZZ
@given(st.binary(max_size=120))
def test_miracl_corpus_bytes(raw: bytes) -> None:
    path = _write("fuzz-corpus.jsonl", raw)
    try:
        list(miracl.iter_corpus([path]))
    except DataError as exc:
        assert str(path) in str(exc)


# ------------------------------------------------------------------------------------------------ searches/
# The search checkpoints (``*.npz``) and bias memos (``bias-*.json``) under the cache's ``searches/`` folder carry a
# sha256 of their content: whatever happens to their bytes, a load returns exactly what was stored or a miss (and
# the caller recomputes); never a changed value, never an exception.
def _search_results() -> dict[str, Any]:
    from mlir_bench.search.base import SearchResult

    rng = np.random.default_rng(1)
    return {f"multi/{lang}": SearchResult(rng.integers(0, 90, (5, 20)), rng.random((5, 20)).astype(np.float32),
                                          rng.integers(0, 90, (5, 3)), rng.integers(1, 90, (5, 3)),
                                          rng.random((5, 3)).astype(np.float32), 90) for lang in ("de", "en", "es")}


SEARCHES = TMP / "searches"
RESULTS = _search_results()
BIAS = {"summary": {"mrc@10": -67.274712, "peer@20": 0.757213, "tlr@10": 0.072165}, "figures": {},
        "per_language": {"mrc@10": {"de": -66.1, "en": -68.449424}}}
DIGEST = "5e" * 32


def _fresh_searches() -> tuple[bytes, bytes, Path, Path]:
    from mlir_bench.runner.bias_memo import memo_analysis
    from mlir_bench.search.checkpoint import SearchCheckpoint

    shutil.rmtree(SEARCHES, ignore_errors=True)
    ck = SearchCheckpoint(SEARCHES)
    ck.save(DIGEST, RESULTS)
    memo_analysis(SEARCHES, ["fuzz"], None, lambda: copy.deepcopy(BIAS))
    (memo,) = SEARCHES.rglob("bias-*.json")
    return ck._path(DIGEST).read_bytes(), memo.read_bytes(), ck._path(DIGEST), memo


CKPT_BYTES, MEMO_BYTES, CKPT_PATH, MEMO_PATH = _fresh_searches()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].n_docs == b[k].n_docs and all(np.array_equal(getattr(a[k], f), getattr(b[k], f))
                                           for f in ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores"))
        for k in a)


def _damage(raw: bytes, data: st.DataObject) -> bytes:
    """Cut the file anywhere, flip bits of one byte, or (JSON) change one digit as sed would."""
    b = bytearray(raw)
    how = data.draw(st.sampled_from(["truncate", "flip", "digit"]))
    if how == "truncate":
        return bytes(b[: data.draw(st.integers(0, len(b) - 1))])
    digits = [i for i, c in enumerate(b) if 0x30 <= c <= 0x39]
    if how == "digit" and digits:
        i = data.draw(st.sampled_from(digits))
        b[i] = 0x30 + (b[i] - 0x30 + data.draw(st.integers(1, 9))) % 10
    else:
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] ^= data.draw(st.integers(1, 255))
    return bytes(b)


@FUZZ
@given(st.data())
def test_search_checkpoint_damaged_is_exact_or_a_miss(data: st.DataObject) -> None:
    from mlir_bench.search.checkpoint import SearchCacheWarning, SearchCheckpoint

    CKPT_PATH.parent.mkdir(parents=True, exist_ok=True)
    CKPT_PATH.write_bytes(_damage(CKPT_BYTES, data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SearchCacheWarning)
        got = SearchCheckpoint(SEARCHES).load(DIGEST)
    assert got is None or _same(got, RESULTS)
    if got is None:
        assert not CKPT_PATH.exists()  # removed: the next run searches again and stores a good one


@FUZZ
@given(st.data())
def test_bias_memo_damaged_is_exact_or_recomputed(data: st.DataObject) -> None:
    from mlir_bench.runner.bias_memo import memo_analysis
    from mlir_bench.search.checkpoint import SearchCacheWarning

    MEMO_PATH.parent.mkdir(parents=True, exist_ok=True)
    MEMO_PATH.write_bytes(_damage(MEMO_BYTES, data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SearchCacheWarning)
        got = memo_analysis(SEARCHES, ["fuzz"], None, lambda: copy.deepcopy(BIAS))
    assert got == BIAS


def test_searches_controls() -> None:
    """The undamaged files are hits (so every miss above is caused by the damage)."""
    from mlir_bench.runner.bias_memo import memo_analysis
    from mlir_bench.search.checkpoint import SearchCheckpoint

    _fresh_searches()
    got = SearchCheckpoint(SEARCHES).load(DIGEST)
    assert got is not None and _same(got, RESULTS)
    assert memo_analysis(SEARCHES, ["fuzz"], None, lambda: pytest.fail("recomputed an intact memo")) == BIAS


@pytest.mark.parametrize("damage", ["flip", "truncate", "digit"])
def test_damaged_searches_rerun_gives_the_same_scores(damage: str, tmp_path: Path, monkeypatch) -> None:
    """A real run (fake encoder, two XQuAD-R articles), every file of ``searches/`` damaged, the same run again:
    identical scores and bias statistics, and the damaged files replaced by good ones."""
    import sys as _sys

    if not (DATA / "xquad-r" / "de.json").exists():
        pytest.skip(f"real data not found at {DATA}")
    _sys.path.insert(0, str(Path(__file__).parent))
    from fake_encoder import register_fakes

    from mlir_bench import cli
    from mlir_bench.runner.bias_memo import verify_searches

    register_fakes()
    (tmp_path / "xq").mkdir()
    for lang in ("de", "en"):
        doc = json.loads((DATA / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
        doc["data"] = doc["data"][:2]
        (tmp_path / "xq" / f"{lang}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    spec = tmp_path / "tiny.toml"
    spec.write_text('name = "tiny"\nfamily = "lareqa"\ndescription = "d"\nlicense = "l"\ncitation = "c"\n'
                    'main_score = "map"\nlanguages = ["de", "en"]\n[source]\n[[source.files]]\nlang = "de"\n'
                    'path = "xq/de.json"\n[[source.files]]\nlang = "en"\npath = "xq/en.json"\n', encoding="utf-8")
    cache = tmp_path / "cache"

    def run(out: str) -> dict[str, Any]:
        monkeypatch.setattr(_sys, "argv", ["mlir-bench", "run", "-m", "fake-ok", "-t", str(spec), "--data-dir",
                                           str(tmp_path), "--output-dir", str(tmp_path / out), "--runs", "none",
                                           "--cache-dir", str(cache), "--no-progress"])
        cli.main()
        (path,) = (tmp_path / out).glob("*.json")
        result = json.loads(path.read_text(encoding="utf-8"))
        return {k: result.get(k) for k in ("main_score", "settings", "cells", "bias")}

    first = run("a")
    files = sorted(p for p in (cache / "searches").rglob("*") if p.is_file())
    assert any(p.suffix == ".npz" for p in files) and any(p.name.startswith("bias-") for p in files)
    for p in files:
        raw = bytearray(p.read_bytes())
        if damage == "truncate":
            raw = raw[: len(raw) // 2]
        elif damage == "flip":
            raw[len(raw) // 2] ^= 0x04
        else:  # one digit, as sed would; a checkpoint has few ASCII digits: its last one
            i = max(i for i, c in enumerate(raw) if 0x31 <= c <= 0x38)
            raw[i] += 1
        p.write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run("b")
    assert again == first
    report = verify_searches(cache / "searches")
    assert not report["damaged"] and report["checkpoints"] >= 1 and report["memos"] == 1
