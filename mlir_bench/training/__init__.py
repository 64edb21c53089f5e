"""The reference trainer: MIMO (stage 1 distillation, stage 2 joint) and its baselines, from recipe files.

Entry points are in :mod:`.api`: ``train_reference``, ``list_recipes``, ``list_methods``.
"""

from __future__ import annotations

__all__ = ["list_methods", "list_recipes", "train_reference"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
