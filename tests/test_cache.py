"""The embedding cache: key sensitivity, checksums, atomic and concurrent writes, and resumable encoding.

Everything here uses a deterministic toy encoder (hashed character trigrams), so it runs in seconds and needs
no model weights. The end-to-end resume test also needs XQuAD-R data ($MLIR_BENCH_DATA); it skips without it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from _data import DATA

from mlir_bench.embedding import embed_corpus
from mlir_bench.embedding.cache import CacheCorruptionWarning, EmbeddingCache
from mlir_bench.encoders.base import ModelMeta, Progress, Role, l2_normalize

DIM = 64


@functools.cache
def _gram(g: str) -> int:
    return zlib.crc32(g.encode("utf-8", "surrogatepass"))


def toy_vectors(texts: Sequence[str], role: str = "query", dim: int = DIM) -> np.ndarray:
    """Hashed character-trigram counts, L2-normalised: deterministic, batch-independent, and good enough to rank."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, t in enumerate(texts):
        s = f"  {t.lower()}  "
        for j in range(len(s) - 2):
            h = _gram(s[j:j + 3])
            out[i, h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    out[:, 0] += 0.01  # no all-zero rows
    return l2_normalize(out)


class ToyEncoder:
    """Counts what it encodes; raises after ``fail_after`` calls (a stand-in for a killed run)."""

    def __init__(self, meta: ModelMeta | None = None, fail_after: int | None = None) -> None:
        self.meta = meta or ModelMeta(name="toy", revision="1", dim=DIM, pooling="mean", max_length=128)
        self.fail_after = fail_after
        self.calls = 0
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], role: Role, *, batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        self.encoded.extend(texts)
        return toy_vectors(texts, role)


TEXTS = [f"text number {i} with some words {i % 7}" for i in range(500)]


# ------------------------------------------------------------------------------------------------ key sensitivity
BASE = ModelMeta(name="m", revision="r1", dim=DIM, prompts={"query": "q: ", "document": "d: "}, pooling="mean",
                 max_length=128, normalize=True, dtype="float32")


@pytest.mark.parametrize("change", [
    {"name": "m2"}, {"revision": "r2"}, {"prompts": {"query": "query: ", "document": "d: "}},
    {"pooling": "cls"}, {"max_length": 256}, {"normalize": False}, {"dtype": "bfloat16"},
])
def test_every_vector_setting_changes_the_key(tmp_path: Path, change: dict) -> None:
    other = dataclasses.replace(BASE, **change)
    assert other.vector_key("query") != BASE.vector_key("query")
    cache = EmbeddingCache(tmp_path)
    embed_corpus(ToyEncoder(BASE), TEXTS[:50], "query", cache=cache)
    enc = ToyEncoder(other)
    embed_corpus(enc, TEXTS[:50], "query", cache=cache)
    assert len(enc.encoded) == 50  # a miss: nothing reused across differing settings


def test_role_changes_the_key_and_fields_are_described(tmp_path: Path) -> None:
    assert BASE.vector_key("query") != BASE.vector_key("document")
    cache = EmbeddingCache(tmp_path)
    embed_corpus(ToyEncoder(BASE), TEXTS[:5], "document", cache=cache)
    assert (tmp_path / BASE.vector_key("document") / "key.json").exists()


# ------------------------------------------------------------------------------------------------ round trip
def test_round_trip_partial_hits_and_duplicates(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    key = BASE.vector_key("query")
    assert cache.get_many(key, TEXTS[:10]) == (None, list(range(10)))
    cache.put_many(key, TEXTS[:100], toy_vectors(TEXTS[:100]))
    cache.put_many(key, TEXTS[50:150], toy_vectors(TEXTS[50:150]))  # overlapping: duplicates are harmless
    want = TEXTS[140:160] + TEXTS[:3] + TEXTS[:3]
    got, todo = cache.get_many(key, want)
    assert todo == list(range(10, 20))
    assert got is not None
    hit = [i for i in range(len(want)) if i not in todo]
    np.testing.assert_array_equal(got[hit], toy_vectors([want[i] for i in hit]))
    assert not got[todo].any()


def test_embed_corpus_encodes_each_text_once_across_runs(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    texts = TEXTS[:300] + TEXTS[:300]
    enc = ToyEncoder()
    v1, s1 = embed_corpus(enc, texts, "query", cache=cache, chunk_size=64)
    assert (s1.n_texts, s1.n_unique, s1.n_encoded) == (600, 300, 300) and enc.calls == 5
    assert sorted(enc.encoded) == sorted(TEXTS[:300])
    enc2 = ToyEncoder()
    v2, s2 = embed_corpus(enc2, texts + TEXTS[300:320], "query", cache=cache, chunk_size=64)
    assert s2.n_encoded == 20 and sorted(enc2.encoded) == sorted(TEXTS[300:320])
    np.testing.assert_array_equal(v2[:600], v1)
    np.testing.assert_array_equal(v1, toy_vectors(texts))


# ------------------------------------------------------------------------------------------------ corruption
def _one_shard(tmp_path: Path) -> tuple[EmbeddingCache, str, Path]:
    cache = EmbeddingCache(tmp_path)
    key = BASE.vector_key("query")
    path = cache.put_many(key, TEXTS[:20], toy_vectors(TEXTS[:20]))
    assert path is not None
    return cache, key, path


def _flip_header_key(data: bytearray, field: bytes) -> None:
    """Flip the lowest bit of the first letter of a header field name: ``"sha256"`` -> ``"rha256"`` (valid JSON)."""
    hlen = int.from_bytes(data[8:12], "little")
    i = data.index(b'"' + field + b'"', 12, 12 + hlen) + 1
    data[i] ^= 0x01


HEADER_DAMAGE = {
    "header-key-sha256": lambda d: _flip_header_key(d, b"sha256"),
    "header-key-n": lambda d: _flip_header_key(d, b"n"),
    "header-key-dim": lambda d: _flip_header_key(d, b"dim"),
    "header-key-key": lambda d: _flip_header_key(d, b"key"),
    "header-sha256-not-hex": lambda d: d.__setitem__(slice(d.index(b'"sha256": "') + 11, d.index(b'"sha256": "') + 12),
                                                     b"z"),
}


@pytest.mark.parametrize("damage", ["flip-vector", "flip-digest", "truncate", "garbage", "empty", *HEADER_DAMAGE])
def test_corrupt_shards_are_detected_and_re_encoded(tmp_path: Path, damage: str) -> None:
    cache, key, path = _one_shard(tmp_path)
    data = bytearray(path.read_bytes())
    if damage in HEADER_DAMAGE:
        HEADER_DAMAGE[damage](data)
    elif damage == "flip-vector":
        data[-5] ^= 0x40
    elif damage == "flip-digest":
        hlen = int.from_bytes(data[8:12], "little")
        data[12 + hlen + 3] ^= 0x01
    elif damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning):
        got, todo = cache.get_many(key, TEXTS[:20])
    assert todo == list(range(20)) and got is None
    assert not path.exists() and path.with_name(path.name + ".corrupt").exists()  # set aside: warned once
    enc = ToyEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)
        v, s = embed_corpus(enc, TEXTS[:20], "query", cache=cache)
    assert s.n_encoded == 20
    np.testing.assert_array_equal(v, toy_vectors(TEXTS[:20]))


def test_corrupt_copy_falls_back_to_a_good_duplicate(tmp_path: Path) -> None:
    cache, key, path = _one_shard(tmp_path)
    cache.put_many(key, TEXTS[:20], toy_vectors(TEXTS[:20]))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptionWarning):
        got, todo = cache.get_many(key, TEXTS[:20])
    assert todo == [] and got is not None
    np.testing.assert_array_equal(got, toy_vectors(TEXTS[:20]))


def test_half_written_temp_files_are_invisible(tmp_path: Path) -> None:
    cache, key, path = _one_shard(tmp_path)
    (path.parent / f".{path.name}.abc.tmp").write_bytes(path.read_bytes()[:50])  # a writer killed mid-write
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)
        got, todo = cache.get_many(key, TEXTS[:20])
    assert todo == []


# ------------------------------------------------------------------------------------------------ concurrency
def _writer(root: str, key: str, seed: int) -> None:
    cache = EmbeddingCache(root)
    rng = np.random.default_rng(seed)
    for it in range(15):
        idx = rng.choice(len(TEXTS), size=40, replace=False)
        texts = [TEXTS[i] for i in idx]
        cache.put_many(key, texts, toy_vectors(texts))
        if it % 4 == seed % 4:
            cache.compact(key)  # compaction racing with the other writers and readers
        got, todo = cache.get_many(key, texts)  # read while others write
        assert not todo and got is not None
        np.testing.assert_array_equal(got, toy_vectors(texts))


def test_concurrent_writers_and_compaction_never_corrupt(tmp_path: Path) -> None:
    key = BASE.vector_key("query")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), key, s)) for s in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptionWarning)
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = EmbeddingCache(tmp_path)
    assert cache.compact(key)
    folder = tmp_path / key
    assert not list(folder.glob("*.corrupt")) and not list(folder.glob(".*.tmp"))
    assert cache.stats(key)["shards"] == 1
    got, todo = cache.get_many(key, TEXTS)
    stored = [i for i in range(len(TEXTS)) if i not in todo]
    assert got is not None and len(stored) == cache.stats(key)["rows"]  # duplicates dropped by compaction
    np.testing.assert_array_equal(got[stored], toy_vectors([TEXTS[i] for i in stored]))


# ------------------------------------------------------------------------------------------------ resumption
def test_many_small_shards_are_compacted_after_encoding(tmp_path: Path, monkeypatch) -> None:
    import mlir_bench.embedding.cache as cache_mod

    monkeypatch.setattr(cache_mod, "AUTO_COMPACT_SHARDS", 4)
    cache = EmbeddingCache(tmp_path)
    v, _ = embed_corpus(ToyEncoder(), TEXTS[:100], "query", cache=cache, chunk_size=10)
    key = ToyEncoder().meta.vector_key("query")
    assert cache.stats(key) == {**cache.stats(key), "shards": 1, "rows": 100}
    monkeypatch.setattr(cache_mod, "SMALL_SHARD_ROWS", 5)  # big shards are never rewritten
    embed_corpus(ToyEncoder(), TEXTS[100:200], "query", cache=cache, chunk_size=10)
    assert cache.stats(key)["shards"] == 11
    got, todo = cache.get_many(key, TEXTS[:200])
    assert not todo and got is not None
    np.testing.assert_array_equal(got, toy_vectors(TEXTS[:200]))


def test_interrupted_encoding_resumes_from_the_last_finished_chunk(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    enc = ToyEncoder(fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        embed_corpus(enc, TEXTS, "document", cache=cache, chunk_size=100)
    assert len(enc.encoded) == 300
    enc2 = ToyEncoder()
    v, s = embed_corpus(enc2, TEXTS, "document", cache=cache, chunk_size=100)
    assert s.n_encoded == 200 and not set(enc2.encoded) & set(enc.encoded)
    np.testing.assert_array_equal(v, toy_vectors(TEXTS))


def test_interrupted_run_then_resume_gives_identical_scores(tmp_path: Path) -> None:
    """A run killed mid-encoding, then re-run, writes exactly the result of an uninterrupted run."""
    if not (DATA / "xquad-r" / "en.json").exists():
        pytest.skip(f"XQuAD-R data not found under {DATA}")
    from mlir_bench.runner import RunConfig, run_evaluation

    def cfg(out: str, cache: EmbeddingCache | None, enc: ToyEncoder) -> RunConfig:
        return RunConfig(model="toy", task="xquad-r", data_dir=DATA, output_dir=tmp_path / out, runs_dir=None,
                         languages=["en", "de"], cache=cache, encoder_factory=lambda _n: enc, bias=False,
                         cache_chunk=1000)

    clean = run_evaluation(cfg("clean", None, ToyEncoder())).to_json()
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):  # queries (3 chunks) done, documents die after their first chunk
        run_evaluation(cfg("resumed", cache, ToyEncoder(fail_after=4)))
    assert not list((tmp_path / "resumed").glob("*.json"))
    enc = ToyEncoder()
    resumed = run_evaluation(cfg("resumed", cache, enc)).to_json()
    n_docs = resumed["manifest"]["encoded"]["document"]
    assert resumed["manifest"]["encoded"]["query"]["encoded"] == 0
    assert 0 < n_docs["encoded"] < n_docs["unique"]
    assert resumed["cells"] == clean["cells"] and resumed["settings"] == clean["settings"]
    again = run_evaluation(dataclasses.replace(cfg("resumed", cache, ToyEncoder()), overwrite=True)).to_json()
    assert again["manifest"]["encoded"]["document"]["encoded"] == 0 and again["cells"] == clean["cells"]


def test_search_interrupted_after_some_cells_resumes_from_the_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """Killed while searching: the re-run searches only the query groups not yet checkpointed, same scores."""
    if not (DATA / "xquad-r" / "en.json").exists():
        pytest.skip(f"XQuAD-R data not found under {DATA}")
    import mlir_bench.search.plan as run_mod
    from mlir_bench.runner import RunConfig, run_evaluation

    cache = EmbeddingCache(tmp_path / "cache")
    real = run_mod.exact_search
    calls: list[int] = []

    def counting(*a, **k):
        calls.append(1)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt("killed while searching")
        return real(*a, **k)

    monkeypatch.setattr(run_mod, "exact_search", counting)

    def cfg(out: str) -> RunConfig:
        return RunConfig(model="toy", task="xquad-r", data_dir=DATA, output_dir=tmp_path / out, runs_dir=None,
                         languages=["en", "de", "es"], cache=cache, encoder_factory=lambda _n: ToyEncoder(),
                         bias=False, overwrite=True)

    fail_at = 3  # one query group per language: the first two are searched and checkpointed
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(cfg("a"))
    calls.clear()
    fail_at = None
    resumed = run_evaluation(cfg("a")).to_json()
    assert len(calls) == 1  # only the third group was searched again
    calls.clear()
    again = run_evaluation(cfg("a")).to_json()
    assert not calls and again["cells"] == resumed["cells"]
    fresh = run_evaluation(RunConfig(model="toy", task="xquad-r", data_dir=DATA, output_dir=tmp_path / "b",
                                     runs_dir=None, languages=["en", "de", "es"], cache=None, bias=False,
                                     encoder_factory=lambda _n: ToyEncoder())).to_json()
    assert resumed["cells"] == fresh["cells"] and resumed["settings"] == fresh["settings"]


def test_verify_reads_every_shard_and_sets_corrupt_ones_aside(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    cache = EmbeddingCache(tmp_path)
    texts = [f"text {i}" for i in range(10)]
    cache.describe("k1", {"name": "toy", "role": "query", "prompt": "q: "})
    good = cache.put_many("k1", texts[:6], toy_vectors(texts[:6]))
    bad = cache.put_many("k1", texts[4:], toy_vectors(texts[4:]))  # texts 4 and 5 stored twice
    assert good and bad
    assert cache.verify("k1") == {"shards": 2, "rows": 12, "unique_texts": 10, "corrupt": []}
    raw = bytearray(bad.read_bytes())
    raw[-1] ^= 0xFF  # a flipped bit in the last vector: the header still looks right, the checksum does not
    bad.write_bytes(bytes(raw))
    r = cache.verify("k1")
    assert (r["shards"], r["rows"], r["unique_texts"]) == (1, 6, 6)
    assert len(r["corrupt"]) == 1 and "checksum mismatch" in r["corrupt"][0]
    assert not bad.exists() and bad.with_name(bad.name + ".corrupt").exists()
    assert cache.describe_key("k1")["name"] == "toy" and cache.describe_key("nope") == {}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", "cache", *args,
                               "--cache-dir", str(tmp_path)], capture_output=True, text=True)

    p = cli("verify")
    assert p.returncode == 0 and "k1 toy: 1 shards, 6 vectors, 6 texts: OK" in p.stdout  # already set aside
    cache.put_many("k2", texts[:2], toy_vectors(texts[:2]))
    shard = next((tmp_path / "k2").glob("*.vec"))
    shard.write_bytes(shard.read_bytes()[:-8])  # truncated
    p = cli("verify")
    assert p.returncode == 1 and "CORRUPT (1 shard(s) set aside)" in p.stdout and "Traceback" not in p.stderr
    p = cli("verify", "--key", "zz")
    assert p.returncode == 2 and "no vector key zz" in p.stderr
    p = cli("info")
    assert p.returncode == 0 and "toy" in p.stdout and "'q: '" in p.stdout
    json.dumps(r)  # the verify report is JSON-safe


def _cache_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mlir_bench.cli import main; main()", "cache", *args,
                           "--cache-dir", str(root)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", ["verify", "info", "run"])
def test_flipped_bit_in_a_header_key_is_a_corrupt_shard_for_every_command(tmp_path: Path, command: str) -> None:
    """ "sha256" -> "rha256" in a shard's JSON header (still valid JSON) used to raise KeyError in run, verify, info."""
    cache, key, path = _one_shard(tmp_path)
    cache.describe(key, {"name": "toy", "role": "query"})
    data = bytearray(path.read_bytes())
    _flip_header_key(data, b"sha256")
    path.write_bytes(bytes(data))
    quarantined = path.with_name(path.name + ".corrupt")
    if command == "run":  # what a run's embed_corpus does first: look the texts up (then encodes the misses)
        with pytest.warns(CacheCorruptionWarning, match="header misses field"):
            got, todo = cache.get_many(key, TEXTS[:20])
        assert got is None and todo == list(range(20))
    else:
        p = _cache_cli(tmp_path, command)
        assert "Traceback" not in p.stderr, p.stderr
        assert str(path) in p.stdout + p.stderr and "header misses field(s) sha256" in p.stdout + p.stderr
        assert p.returncode == (1 if command == "verify" else 0), p.stdout + p.stderr
    assert not path.exists() and quarantined.exists()  # set aside, as every other corrupt shard


# ------------------------------------------------------------------------------------------------ searches/
def _search_results() -> dict:
    from mlir_bench.search.base import SearchResult

    rng = np.random.default_rng(0)
    return {f"multi/{lang}": SearchResult(rng.integers(0, 50, (6, 20)), rng.random((6, 20)).astype(np.float32),
                                          rng.integers(0, 50, (6, 2)), rng.integers(1, 50, (6, 2)),
                                          rng.random((6, 2)).astype(np.float32), 50) for lang in ("de", "en")}


def _same_results(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(getattr(a[k], f), getattr(b[k], f)) and a[k].n_docs == b[k].n_docs
        for k in a for f in ("top_idx", "top_scores", "rel_idx", "rel_ranks", "rel_scores"))


def _change_one_digit(path: Path) -> None:
    """What ``sed`` does to a number: one digit of the file's first float replaced (the file stays valid)."""
    import re

    text = path.read_text(encoding="utf-8")
    m = re.search(r"\d\.\d*([1-8])", text)
    assert m is not None
    i = m.start(1)
    path.write_text(text[:i] + str(int(text[i]) + 1) + text[i + 1:], encoding="utf-8")


def test_search_checkpoint_carries_a_sha256_and_a_damaged_one_is_a_miss(tmp_path: Path) -> None:
    from mlir_bench.search.checkpoint import SearchCacheWarning, SearchCheckpoint

    ck = SearchCheckpoint(tmp_path / "searches")
    results = _search_results()
    ck.save("ab" * 32, results)
    path = ck._path("ab" * 32)
    with np.load(path) as z:
        assert "sha256" in z.files
    got = ck.load("ab" * 32)
    assert got is not None and _same_results(got, results)
    # rewrite one array with a changed value but a consistent zip (CRCs right): only the sha256 can tell
    with np.load(path) as z:
        arrays = {n: z[n] for n in z.files}
    arrays["0.rel_ranks"] = arrays["0.rel_ranks"].copy()
    arrays["0.rel_ranks"][0, 0] += 1
    np.savez(path, **arrays)
    with pytest.warns(SearchCacheWarning, match="sha256 mismatch"):
        assert ck.load("ab" * 32) is None
    assert not path.exists()  # removed: the next save writes it again


def test_bias_memo_with_one_digit_changed_is_recomputed(tmp_path: Path) -> None:
    """One digit of a stored bias statistic changed with sed used to go straight into the result."""
    from mlir_bench.runner.bias_memo import memo_analysis
    from mlir_bench.search.checkpoint import SearchCacheWarning

    truth = {"summary": {"mrc@10": 12.345678, "peer@20": 0.731}, "figures": {}}
    calls = []

    def compute() -> dict:
        calls.append(1)
        return json.loads(json.dumps(truth))

    root = tmp_path / "searches"
    assert memo_analysis(root, ["a", "b"], None, compute) == truth and len(calls) == 1
    assert memo_analysis(root, ["a", "b"], None, compute) == truth and len(calls) == 1  # a hit
    (memo,) = root.rglob("bias-*.json")
    assert json.loads(memo.read_text())["sha256"]
    _change_one_digit(memo)
    with pytest.warns(SearchCacheWarning, match="sha256 mismatch"):
        assert memo_analysis(root, ["a", "b"], None, compute) == truth
    assert len(calls) == 2  # recomputed, and stored again
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchCacheWarning)
        assert memo_analysis(root, ["a", "b"], None, compute) == truth and len(calls) == 2


def test_cache_verify_checks_searches_and_removes_stale_temporary_files(tmp_path: Path) -> None:
    from mlir_bench.runner.bias_memo import memo_analysis
    from mlir_bench.search.checkpoint import SearchCheckpoint

    cache, key, shard = _one_shard(tmp_path)
    searches = tmp_path / "searches"
    ck = SearchCheckpoint(searches)
    for d in ("ab", "cd"):
        ck.save(d * 32, _search_results())
    for part in ("x", "y"):
        memo_analysis(searches, [part], None, lambda: {"summary": {"mrc@10": 12.5}, "figures": {}})
    p = _cache_cli(tmp_path, "verify")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "searches: 2 search checkpoints, 2 bias memos: OK" in p.stdout
    assert "temporary files of killed writers: 0 removed" in p.stdout

    bad_ck = ck._path("ab" * 32)
    raw = bytearray(bad_ck.read_bytes())
    raw[len(raw) // 2] ^= 0x10  # a flipped bit
    bad_ck.write_bytes(bytes(raw))
    bad_memo = sorted(searches.rglob("bias-*.json"))[0]
    _change_one_digit(bad_memo)
    old_tmp = [shard.parent / f".{shard.name}.k1ll.tmp", searches / "ab" / f".{bad_ck.name}.k1ll.tmp",
               searches / "cd" / ".bias-x.json.k1ll.tmp"]
    for t in old_tmp:
        t.write_bytes(b"half written")
        os.utime(t, (time.time() - 3600, time.time() - 3600))
    young = searches / "cd" / ".bias-y.json.n0w.tmp"
    young.write_bytes(b"being written")
    p = _cache_cli(tmp_path, "verify")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stdout + p.stderr
    assert "searches: 1 search checkpoints, 1 bias memos: DAMAGED (2 file(s) removed" in p.stdout
    assert f"{bad_ck}: unreadable" in p.stdout and f"{bad_memo}: sha256 mismatch; removed" in p.stdout
    assert "temporary files of killed writers: 3 removed, 1 younger than 10 minutes kept" in p.stdout
    for t in old_tmp:
        assert f"removed {t}" in p.stdout and not t.exists()
    assert young.exists() and f"kept {young}" in p.stdout
    assert not bad_ck.exists() and not bad_memo.exists()
    p = _cache_cli(tmp_path, "verify")
    assert p.returncode == 0 and "searches: 1 search checkpoints, 1 bias memos: OK" in p.stdout


def test_searches_files_of_the_older_format_are_misses_not_damage(tmp_path: Path) -> None:
    """Files written before searches/ carried a sha256 cannot be verified: a silent miss, removed by verify, exit 0."""
    from mlir_bench.runner.bias_memo import memo_analysis, read_memo
    from mlir_bench.search.checkpoint import SearchCacheWarning, SearchCheckpoint

    EmbeddingCache(tmp_path).put_many("k1", TEXTS[:2], toy_vectors(TEXTS[:2]))
    searches = tmp_path / "searches"
    ck = SearchCheckpoint(searches)
    ck.save("ab" * 32, _search_results())
    path = ck._path("ab" * 32)
    with np.load(path) as z:
        old = {n: z[n] for n in z.files if n != "sha256"}
    np.savez(path, **old)  # what the previous version wrote
    memo_analysis(searches, ["x"], None, lambda: {"summary": {"mrc@10": 1.5}, "figures": {}})
    (memo,) = searches.rglob("bias-*.json")
    stored = read_memo(memo)
    memo.write_text(json.dumps(stored), encoding="utf-8")  # result and figure_sha256, no sha256
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchCacheWarning)
        assert ck.load("ab" * 32) is None
    p = _cache_cli(tmp_path, "verify")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "searches: 0 search checkpoints, 0 bias memos: OK" in p.stdout
    assert "2 file(s) of the older format without a checksum removed" in p.stdout
    assert not path.exists() and not memo.exists()
