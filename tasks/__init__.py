"""Task specs shipped with mlir-bench: one ``<name>.toml`` per task, plus ``expected.toml`` (the expected scores).

This folder stays at the top of the repository and is installed as the package ``mlir_bench.task_specs`` (see
``[tool.setuptools.package-dir]`` in pyproject.toml), so a wheel install carries the specs. Read them through
:mod:`mlir_bench.tasks.registry`, not by path.
"""
