"""Which onnxruntime execution providers a session asks for: one rule, used by the runtime that runs
models and by ``xner env`` that reports what that runtime would pick."""

from __future__ import annotations

from .errors import XnerError

__all__ = ["PROVIDERS", "choose_providers"]

PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}


def choose_providers(requested: str, available: list[str]) -> list[str]:
    """The providers, in priority order, for ``--provider REQUESTED`` given the build's ``available``
    list: ``auto`` takes TensorRT, then CUDA, then the CPU, whichever the build has."""
    if requested == "auto":
        order = [PROVIDERS[k] for k in ("tensorrt", "cuda", "cpu")]
        return [p for p in order if p in available] or ["CPUExecutionProvider"]
    if requested not in PROVIDERS:
        raise XnerError(f"unknown provider {requested!r}; choose auto, {', '.join(PROVIDERS)}")
    name = PROVIDERS[requested]
    if name not in available:
        raise XnerError(f"provider {requested} is not available in this onnxruntime build (has: {', '.join(available)})")
    return [name] + (["CPUExecutionProvider"] if name != "CPUExecutionProvider" else [])
