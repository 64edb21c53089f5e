"""mlir-bench: evaluation harness for multilingual information retrieval over mixed-language pools."""

from __future__ import annotations

__version__ = "0.1.0"
