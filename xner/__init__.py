"""xner: ONNX-accelerated inference and robustness toolkit for cross-lingual NER."""

from __future__ import annotations

__version__ = "0.1.0"

from .corpus import Corpus, WordVocab, concat  # noqa: E402
from .errors import InputError, XnerError  # noqa: E402
from .labels import LabelSet  # noqa: E402

__all__ = ["Corpus", "WordVocab", "concat", "LabelSet", "XnerError", "InputError", "__version__"]
