"""Export: ONNX export with a parity gate, optimised/quantised variants, the ONNX Runtime engine, the
pipeline, prediction and the HTTP server."""

from .build import ParityError, export, variant_name
from .exporter import export_model
from .parity import Parity, check
from .pipeline import Entity, NerPipeline, split_words
from .predict import predict
from .runtime import Runtime, variant_file

__all__ = ["Entity", "NerPipeline", "Parity", "ParityError", "Runtime", "check", "create_app", "export",
           "export_model", "predict", "serve", "split_words", "variant_file", "variant_name"]


def __getattr__(name: str):
    """The server (FastAPI, pydantic) loads only when asked for."""
    if name in ("create_app", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
