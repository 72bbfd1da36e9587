"""Export: ONNX export with a parity gate, optimised/quantised variants, the ONNX Runtime engine, the
pipeline, prediction and the HTTP server (each loaded on first use)."""

from __future__ import annotations

from xner.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Entity": ".pipeline", "NerPipeline": ".pipeline", "Parity": ".parity", "ParityError": ".build",
    "Runtime": ".runtime", "check": ".parity", "create_app": ".server", "export": ".build",
    "export_model": ".exporter", "predict": ".predict", "serve": ".server", "split_words": ".pipeline",
    "variant_file": ".runtime", "variant_name": ".build",
})
