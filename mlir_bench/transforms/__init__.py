"""Training-free removal of the language offset: post-hoc transforms of a model's vectors (docs/PROTOCOLS.md §5a).

A transform is part of a model's identity: ``-m me5-small+center:ntrex`` evaluates me5-small's vectors after
centering each language, with language means estimated on NTREX-128. :mod:`.spec` parses that syntax;
:mod:`.methods` fits and applies each method on arrays (vectors, languages, parallel groups) and knows nothing of
models or tasks; the runner (``runner/transform_step.py``) loads the estimation texts, encodes them with the
model (cached like every vector), fits, and applies the fit to the cached raw vectors of the task.
"""

from __future__ import annotations

from .methods import Estimation, FittedTransform, fit
from .spec import METHODS, SOURCES, TransformSpec, parse_transform, split_model

__all__ = ["METHODS", "SOURCES", "Estimation", "FittedTransform", "TransformSpec", "fit", "parse_transform",
           "split_model"]
