"""The precompiled-charsmap builder: a darts-clone trie that tokenizers' Precompiled normaliser reads."""

from __future__ import annotations

from tokenizers import normalizers

from mlir_bench.me5_rebuild.charsmap import build_double_array, decomposition_rules, precompiled_charsmap


def test_trie_lookups_through_tokenizers():
    single = {ord("Ａ"): "A", ord("\x01"): "", ord("\t"): " ", ord("ﬁ"): "fi", ord("①"): "1"}
    blob = precompiled_charsmap(single)
    norm = normalizers.Precompiled(blob)
    assert norm.normalize_str("Ａ\x01b\tc ﬁ ①") == "Ab c fi 1"
    assert norm.normalize_str("e\u0301") == "é"  # a decomposition rule composes
    assert norm.normalize_str("\u062f\u0631\u0651\u0650") == "\u062f\u0631\u0651\u0650"  # no mark reordering
    assert norm.normalize_str("plain ascii") == "plain ascii"


def test_double_array_units():
    keys = [b"a", b"ab", b"b"]
    array = build_double_array(keys, [0, 5, 9])
    assert array[0] >> 10 > 0 and len(array) < 1024


def test_decomposition_rules_skip_what_single_rules_cover():
    rules = decomposition_rules({})
    assert rules["e\u0301"] == "é"
    assert "e" not in rules
