"""Integrations with other evaluation tools. Each submodule imports its tool lazily (only when used).

- :mod:`.mteb_models`: ``mteb:<name>`` encoders, loaded through mteb's model registry, and our encoders as mteb
  models (:func:`~.mteb_models.as_mteb_model`).
- :mod:`.mteb_tasks`: our tasks (one setting, e.g. Multi) as mteb retrieval tasks, for ``mteb.evaluate``.
- :mod:`.mteb_results`: our result JSON as mteb ``TaskResult`` files and back (``import-mteb``/``export-mteb``).
"""

from __future__ import annotations
