"""langtest's robustness tests on a Hugging Face token-classification folder, timed: the peer side of
``xner bench --suite peer``.  Runs under the peer environment's python (langtest with transformers
4.x and PyTorch), not xner's: it imports nothing of xner.

    PEER_PYTHON bench/peer_langtest.py --model DIR --data test.conll --tests lowercase,uppercase \\
        --out result.json

Prints nothing on success; writes a JSON object: the langtest and transformers versions, the seconds
of each phase (load, generate, run, report: langtest's own steps), the number of test cases, and per
test type the pass rate and the agreement F1 (perturbed predictions against the original ones, which
is what langtest's NER robustness compares).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _agreement_f1(samples) -> float | None:
    """Entity F1 (seqeval, default mode) of the model's predictions on the perturbed samples against its
    predictions on the originals: langtest's NER robustness compares the two (its expected results are
    the model's own original predictions, not gold tags)."""
    from seqeval.metrics import f1_score

    gold, pred = [], []
    for s in samples:
        exp, act = getattr(s, "expected_results", None), getattr(s, "actual_results", None)
        g = [getattr(e, "entity", "O") for e in getattr(exp, "predictions", [])]
        p = [getattr(e, "entity", "O") for e in getattr(act, "predictions", [])]
        if g and len(g) == len(p):
            gold.append(g)
            pred.append(p)
    return float(f1_score(gold, pred)) if gold else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="CoNLL file (token and tag per line, blank line between sentences)")
    ap.add_argument("--tests", required=True, help="langtest robustness test types, comma-separated")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-pass-rate", type=float, default=0.65)
    a = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    t0 = time.perf_counter()
    import importlib.metadata as md

    import transformers
    from langtest import Harness

    tests = [t for t in a.tests.split(",") if t]
    config = {"tests": {"defaults": {"min_pass_rate": a.min_pass_rate},
                        "robustness": {t: {"min_pass_rate": a.min_pass_rate} for t in tests}}}
    h = Harness(task="ner", model={"model": a.model, "hub": "huggingface"}, data={"data_source": a.data},
                config=config)
    t1 = time.perf_counter()
    h.generate()
    t2 = time.perf_counter()
    h.run()
    t3 = time.perf_counter()
    report = h.report()
    t4 = time.perf_counter()
    per = {}
    try:
        rows = report.to_dict(orient="records")
        for r in rows:
            per[str(r.get("test_type"))] = {"pass_rate": r.get("pass_rate"), "fail_count": r.get("fail_count"),
                                            "pass_count": r.get("pass_count"), "pass": r.get("pass")}
    except Exception as e:  # the report's layout differs between langtest versions
        per["_report_error"] = str(e)
    cases = getattr(h, "_testcases", None) or []
    by_type: dict = {}
    for s in cases:
        by_type.setdefault(getattr(s, "test_type", "?"), []).append(s)
    for t, ss in by_type.items():
        per.setdefault(t, {})["cases"] = len(ss)
        per[t]["agreement_f1"] = _agreement_f1(ss)
    out = {"langtest": md.version("langtest"), "transformers": transformers.__version__, "python": sys.version.split()[0],
           "tests": tests, "cases": len(cases),
           "seconds": {"load": round(t1 - t0, 2), "generate": round(t2 - t1, 2), "run": round(t3 - t2, 2),
                       "report": round(t4 - t3, 2), "total": round(t4 - t0, 2)},
           "per_test": per}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
