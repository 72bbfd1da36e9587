"""``export``: export, optionally optimise / quantise / convert, gate every result, write a report.

The export is built in a temporary sibling of ``out`` and moved into place only when every gate
passed (or ``force``); see :mod:`folders` for what ``out`` may be.
"""

from __future__ import annotations

import time
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import GateError, XnerError
from xner.io import write_json
from xner.provenance import provenance

from . import folders
from .exporter import export_model
from .optimize import optimize, quantize_int8, to_fp16
from .parity import check
from .quantize import quantize_static_int8


class ParityError(GateError):
    pass


#: ``--quantize`` kinds: ``int8`` static QDQ, calibrated (one sentence's answer never depends on its
#: batch); ``int8-dynamic`` activation scales per batch (faster to make, batch-dependent)
QUANTIZE = ("int8", "int8-dynamic")


def _gpu_provider() -> str | None:
    from .runtime import import_ort

    return "cuda" if "CUDAExecutionProvider" in import_ort().get_available_providers() else None


def export(model_dir: str, out: str | Path, exporter: str = "auto", level: str | None = None,
           quantize: str | None = None, fp16: bool = False, eval_corpus: Corpus | None = None,
           force: bool = False, opset: int = 18, threads: int | None = None, provider: str = "cpu",
           overwrite: bool = False, calibration: Corpus | None = None, inputs: tuple = ()) -> dict:
    """Export, transform and gate (module docstring); ``calibration``: the model's training text for
    static int8 (else its run card's); ``inputs``: more paths the command reads (its data folder), which
    ``out`` may never replace, beside the model and the data folder its run card names."""
    if quantize not in (None, *QUANTIZE):
        raise XnerError("--quantize takes int8 (static, batch-independent) or int8-dynamic")
    if quantize and fp16:
        raise XnerError("choose one of --quantize int8 (CPU) or --fp16 (GPU)")
    if not Path(model_dir).exists():
        raise XnerError(f"model folder not found: {model_dir}")
    target = folders.check_out(Path(out), model_dir, overwrite, inputs=(*inputs, *folders.card_inputs(model_dir)))
    tmp = folders.staging(target)
    try:
        report = _build(model_dir, tmp, exporter, level, quantize, fp16, eval_corpus, force, opset, threads, provider,
                        calibration)
    except BaseException:
        folders.discard(tmp)
        raise
    if report["passed"] or force:
        folders.publish(tmp, target)
        return report
    kept = folders.reject(tmp, target)
    bad = [g for g in report["gates"] if not g["passed"]][0]
    raise ParityError(f"parity gate failed after {bad['after']}: {bad.get('reason') or ''}max |logit diff| "
                      f"{bad['max_abs_diff']:.2e}, tag agreement {bad['tag_agreement']:.4f}, F1 change "
                      f"{bad['f1_change']:+.4f} (thresholds {bad['thresholds']}); {out} was left as it was; the "
                      f"rejected candidate and its report are in {kept}; --force keeps the model anyway")


def variant_name(parts: list[str]) -> str:
    """``[]`` -> ``model.onnx``; ``["O2", "int8"]`` -> ``model_O2_int8.onnx`` (sentence-transformers' layout)."""
    return "model.onnx" if not parts else f"model_{'_'.join(parts)}.onnx"


def _build(model_dir: str, out: Path, exporter: str, level: str | None, quantize: str | None, fp16: bool,
           eval_corpus: Corpus | None, force: bool, opset: int, threads: int | None, provider: str,
           calibration: Corpus | None = None) -> dict:
    t0 = time.time()
    path, used = export_model(model_dir, out, exporter, opset)
    steps: list[dict] = [{"step": "export", "exporter": used, "opset": opset, "variant": path.name}]
    cache: dict = {}  # the PyTorch reference, computed once for every variant's gate
    p = check(model_dir, str(out), eval_corpus, "exact", provider, threads, file_name=path.name, cache=cache)
    gates: list[dict] = [{"after": "export", "variant": path.name, **p.to_json()}]
    # every transformation writes a new variant beside the last one, and each variant is gated
    parts: list[str] = []
    approximate = False
    verified_on = provider
    plan = ([("optimize", level)] if level else []) + ([("quantize", quantize)] if quantize else []) + \
        ([("fp16", "fp16")] if fp16 else [])
    if quantize == "int8" and level:
        # static int8 quantises MatMuls with constant weights: after O2/O3 the Q/K/V projections are inside fused
        # Attention ops it cannot reach (bert-base 32x128: 3.08 s vs 1.51 s quantised first, then optimised)
        plan = [("quantize", quantize), ("optimize", level)]
    for step, part in plan:
        src = out / variant_name(parts)
        parts.append(part)
        dst = out / variant_name(parts)
        if step == "optimize":
            info = optimize(src, dst, level)
            approximate |= level == "O3"
        elif step == "quantize":
            info = quantize_static_int8(src, dst, model_dir, calibration) if part == "int8" else quantize_int8(src, dst)
            approximate = True
        else:
            info = to_fp16(src, dst)
            approximate = True
            verified_on = _gpu_provider() or provider  # an fp16 graph is meant for the GPU: gate it there if one exists
        steps.append({"step": step, "variant": dst.name, **info})
        p = check(model_dir, str(out), eval_corpus, "approximate" if approximate else "exact", verified_on, threads,
                  file_name=dst.name, cache=cache)
        gates.append({"after": step, "variant": dst.name, **p.to_json()})
    default = variant_name(parts)
    passed = all(g["passed"] for g in gates)
    variants = {g["variant"]: {"passed": g["passed"], "kind": g["kind"], "after": g["after"],
                               "bytes": (out / g["variant"]).stat().st_size} for g in gates}
    report = {
        "tool": folders.MARK, "source_model": str(model_dir), "steps": steps, "gates": gates, "passed": passed,
        "forced": force and not passed, "default": default, "variants": variants,
        "eval": {"lang": eval_corpus.lang, "sentences": len(eval_corpus), "source": eval_corpus.source}
        if eval_corpus is not None else {"sample": "vocabulary words, seed 0"},
        "onnx_bytes": (out / default).stat().st_size, "seconds": round(time.time() - t0, 1),
        "provenance": provenance(),
    }
    if fp16:
        report["gpu_verified"] = gates[-1]["provider"] in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
        if not report["gpu_verified"]:
            report["note"] = "fp16 graph not verified on GPU (gated on the CPU provider only)"
    write_json(out / folders.REPORT, report)
    return report
