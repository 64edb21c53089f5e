"""BM25 lexical baseline ("bm25") on bm25s, as sparse vectors whose dot product is the BM25 score.

**Scoring.** bm25s with ``method="lucene"`` (Lucene's idf ``log(1 + (N - df + 0.5) / (df + 0.5))`` and term
weight ``tf / (tf + k1 * (1 - b + b * |d| / avgdl))``), k1 = 0.9, b = 0.4: Pyserini's BM25 defaults. A document
row holds bm25s's own precomputed per-term scores (its eager index, transposed to documents x vocabulary), and a
query row holds each vocabulary term's count in the query, so ``query_vec @ doc_vecs.T`` is exactly what
``bm25s.BM25.get_scores`` returns (a repeated query term counts once per occurrence, as in bm25s; query terms
absent from the fitted collection are dropped). ``meta.similarity`` is "dot" and vectors are not normalised.

**Tokeniser** (``TOKENIZER``; language-agnostic, because the pool mixes languages; no stemming, no stopwords):

1. ``unicodedata.normalize("NFKC", text).casefold()`` (full-width forms fold, "ß" -> "ss", case is dropped);
2. runs of letters, marks and digits are found with the ``regex`` module (split at everything else:
   spaces, punctuation, symbols, apostrophes and hyphens);
3. a run of a script written without spaces (Script_Extensions Han, Hiragana, Katakana, Thai, Lao, Khmer,
   Myanmar, so zh, ja and th) becomes its grapheme clusters (``\\X``) as **unigrams plus overlapping bigrams**;
   Hangul (Korean is written with spaces) is treated as words;
4. any other run is one token (a word).

e.g. "Die Panthers (2015) 手机很好!" -> die, panthers, 2015, 手, 机, 很, 好, 手机, 机很, 很好.
The tokeniser id, the Unicode version of ``unicodedata`` and the ``regex`` version are in ``meta.revision``:
they change tokens, so they change vectors.

**Fitting.** ``fit(documents)`` indexes the whole pool (IDF and average length come from it); the vocabulary
is numbered in order of first occurrence, so vectors are deterministic across runs. After ``fit``,
``meta.revision`` also carries a fingerprint of the fitted collection (texts in order) and ``meta.dim`` is the
vocabulary size. ``encode(texts, "document")`` accepts only texts that were passed to ``fit`` (in any order,
duplicates allowed) and raises ModelError otherwise: a document outside the fitted collection has no defined
BM25 vector under that collection's statistics, and silently scoring it would hide a pool mismatch.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import ModelError
from .base import ModelMeta, Progress, Role
from .registry import LoadOptions, check_texts, reject_options, require_cpu, with_meta

NAME = "bm25"
K1 = 0.9
B = 0.4
METHOD = "lucene"
TOKENIZER = "mlir-bench-unibi-1"
DEFAULT_BATCH_SIZE = 1024

_UNSEGMENTED = "".join(
    rf"\p{{scx={s}}}" for s in ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar")
)
_PATTERN = (
    rf"(?P<run>[[\p{{L}}\p{{M}}\p{{N}}]&&[{_UNSEGMENTED}]]+)"  # scripts written without spaces
    rf"|(?P<word>[[\p{{L}}\p{{M}}\p{{N}}]--[{_UNSEGMENTED}]]+)"  # everything else: words
)
_TOKEN_RE = None
_GRAPHEME_RE = None


def _compiled():  # type: ignore[no-untyped-def]
    global _TOKEN_RE, _GRAPHEME_RE
    if _TOKEN_RE is None:
        import regex

        _TOKEN_RE = regex.compile(_PATTERN, regex.V1)
        _GRAPHEME_RE = regex.compile(r"\X", regex.V1)
    return _TOKEN_RE, _GRAPHEME_RE


def tokenizer_id() -> str:
    """The tokeniser's name and the versions that can change its output."""
    import regex

    return f"{TOKENIZER}@unicode{unicodedata.unidata_version}+regex{regex.__version__}"


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` (see the module docstring)."""
    token_re, grapheme_re = _compiled()
    norm = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for m in token_re.finditer(norm):
        word = m.group("word")
        if word is not None:
            out.append(word)
            continue
        g = grapheme_re.findall(m.group("run"))
        out.extend(g)
        out.extend(a + b for a, b in zip(g, g[1:], strict=False))
    return out


def _bm25s_version() -> str:
    import bm25s

    return str(bm25s.__version__)


def _revision(k1: float = K1, b: float = B, corpus: str | None = None) -> str:
    rev = f"tok={tokenizer_id()};bm25s={_bm25s_version()};{METHOD};k1={k1};b={b}"
    return rev + (f";corpus={corpus}" if corpus else "")


def describe() -> ModelMeta:
    """Metadata before fitting (the revision gains the corpus fingerprint after ``fit``)."""
    return ModelMeta(
        name=NAME,
        revision=_revision(),
        dim=None,
        prompts={},
        pooling="none",
        max_length=None,
        normalize=False,
        dtype="float32",
        similarity="dot",
        languages=None,
        source=f"bm25s {_bm25s_version()}, method={METHOD}, k1={K1}, b={B}; tokeniser {tokenizer_id()}",
        reference="Pyserini BM25 defaults (k1=0.9, b=0.4); bm25s: Lù 2024, arXiv 2407.03618",
    )


class BM25Encoder:
    """BM25 as a FittedEncoder: ``fit`` the pool, then ``encode`` documents and queries as CSR rows."""

    def __init__(self, *, batch_size: int | None = None, k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.meta = with_meta(describe(), revision=_revision(k1, b))
        self.vocab: dict[str, int] = {}
        self._doc_matrix: sp.csr_matrix | None = None
        self._row: dict[str, int] = {}
        self.retriever = None

    def fit(self, documents: Sequence[str]) -> None:
        """Index ``documents`` (the whole pool): vocabulary, IDF, average length and document vectors."""
        import bm25s

        docs = check_texts(documents, NAME)
        if not docs:
            raise ModelError("model bm25: fit() needs at least one document")
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(tok, len(vocab)) for tok in tokenize(d)] for d in docs]
        if not vocab:
            raise ModelError("model bm25: the documents contain no tokens (letters or digits)")
        retriever = bm25s.BM25(k1=self.k1, b=self.b, method=METHOD)
        retriever.index((ids, vocab), create_empty_token=False, show_progress=False)
        s = retriever.scores
        csc = sp.csc_matrix(
            (s["data"], s["indices"], s["indptr"]), shape=(s["num_docs"], len(vocab)), dtype=np.float32
        )
        self.retriever = retriever
        self.vocab = vocab
        self._doc_matrix = csc.tocsr()
        self._doc_matrix.sort_indices()
        self._row = {}
        for i, d in enumerate(docs):
            self._row.setdefault(d, i)
        h = hashlib.sha256()
        for d in docs:
            data = d.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        self.meta = with_meta(
            self.meta,
            revision=_revision(self.k1, self.b, h.hexdigest()[:16]),
            dim=len(vocab),
        )

    def encode(
        self,
        texts: Sequence[str],
        role: Role,
        *,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> sp.csr_matrix:
        """CSR rows over the fitted vocabulary: BM25 term weights (documents) or term counts (queries)."""
        if self._doc_matrix is None:
            raise ModelError("model bm25: call fit(documents) with the whole pool before encode()")
        items = check_texts(texts, NAME)
        bs = batch_size or self.batch_size
        parts = []
        for start in range(0, len(items), bs):
            chunk = items[start : start + bs]
            parts.append(self._documents(chunk) if role == "document" else self._queries(chunk, role))
            if progress is not None:
                progress(len(chunk))
        if not parts:
            return sp.csr_matrix((0, len(self.vocab)), dtype=np.float32)
        out = sp.vstack(parts, format="csr", dtype=np.float32)
        return out

    def _documents(self, texts: list[str]) -> sp.csr_matrix:
        assert self._doc_matrix is not None
        rows = []
        for t in texts:
            r = self._row.get(t)
            if r is None:
                raise ModelError(
                    f"model bm25: document {t[:60]!r} was not passed to fit(); BM25 document vectors exist "
                    "only for the fitted collection (fit the whole pool first)"
                )
            rows.append(r)
        return self._doc_matrix[np.asarray(rows, dtype=np.int64)]

    def _queries(self, texts: list[str], role: str) -> sp.csr_matrix:
        if role != "query":
            raise ModelError(f"model bm25: unknown role {role!r}")
        indptr: list[int] = [0]
        indices: list[int] = []
        data: list[int] = []
        for t in texts:
            counts = Counter(self.vocab[tok] for tok in tokenize(t) if tok in self.vocab)
            cols = sorted(counts)
            indices.extend(cols)
            data.extend(counts[c] for c in cols)
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(texts), len(self.vocab)),
        )


def load(opts: LoadOptions) -> BM25Encoder:
    require_cpu(NAME, opts)
    reject_options(NAME, opts)  # threads is a cap, and bm25 is single-threaded: nothing to do
    try:
        import bm25s  # noqa: F401
        import regex  # noqa: F401
    except ImportError as exc:
        raise ModelError(
            f"model bm25 needs the packages bm25s and regex: pip install bm25s regex ({exc})"
        ) from None
    return BM25Encoder(batch_size=opts.batch_size)
