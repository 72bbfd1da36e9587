"""``export``: export, optionally optimise / quantise / convert, gate every result, write a report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import XnerError
from xner.provenance import provenance

from .exporter import export_model
from .optimize import optimize, quantize_int8, to_fp16
from .parity import check


class ParityError(XnerError):
    pass


def export(model_dir: str, out: str | Path, exporter: str = "auto", level: str | None = None,
           quantize: str | None = None, fp16: bool = False, eval_corpus: Corpus | None = None,
           force: bool = False, opset: int = 18, threads: int | None = None, provider: str = "cpu") -> dict:
    if quantize not in (None, "int8"):
        raise XnerError("--quantize takes int8")
    if quantize and fp16:
        raise XnerError("choose one of --quantize int8 (CPU) or --fp16 (GPU)")
    out = Path(out)
    t0 = time.time()
    path, used = export_model(model_dir, out, exporter, opset)
    steps: list[dict] = [{"step": "export", "exporter": used, "opset": opset}]
    gates: list[dict] = []
    # gate the plain float32 export first, then the transformed graph
    p = check(model_dir, str(out), eval_corpus, "exact", provider, threads)
    gates.append({"after": "export", **p.to_json()})
    approximate = False
    if level:
        steps.append({"step": "optimize", **optimize(path, level)})
        approximate |= level == "O3"
    if quantize:
        steps.append({"step": "quantize", **quantize_int8(path)})
        approximate = True
    if fp16:
        steps.append({"step": "fp16", **to_fp16(path)})
        approximate = True
    if len(steps) > 1:
        p = check(model_dir, str(out), eval_corpus, "approximate" if approximate else "exact", provider, threads)
        gates.append({"after": steps[-1]["step"], **p.to_json()})
    passed = all(g["passed"] for g in gates)
    report = {
        "source_model": str(model_dir), "steps": steps, "gates": gates, "passed": passed, "forced": force and not passed,
        "eval": {"lang": eval_corpus.lang, "sentences": len(eval_corpus), "source": eval_corpus.source}
        if eval_corpus is not None else {"sample": "vocabulary words, seed 0"},
        "onnx_bytes": path.stat().st_size, "seconds": round(time.time() - t0, 1), "provenance": provenance(),
    }
    (out / "export_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    if not passed and not force:
        bad = [g for g in gates if not g["passed"]][0]
        raise ParityError(f"parity gate failed after {bad['after']}: max |logit diff| {bad['max_abs_diff']:.2e}, "
                          f"tag agreement {bad['tag_agreement']:.4f}, F1 change {bad['f1_change']:+.4f} "
                          f"(thresholds {bad['thresholds']}); report in {out / 'export_report.json'}; "
                          "--force keeps the model anyway")
    return report
