"""Start-up suite: the cold start of ``xner predict --text`` on a small export (a new process each
time: interpreter, imports, model loading, one sentence), against the path a user writes without xner
(a Hugging Face token-classification pipeline on the same PyTorch folder), taking turns, median of 5.
Tagging text imports neither torch, numba nor scipy (``xner/jit.py``, lazy package exports)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .harness import SuiteResult, measure_interleaved

__all__ = ["run"]

TEXT = "Anna Smith visited Kuala Lumpur with the United Nations ."
HF = ("from transformers import pipeline; import sys; "
      "p = pipeline('token-classification', model=sys.argv[1], aggregation_strategy='simple'); p(sys.argv[2])")


def run(quick: bool = False, data_dir: str | None = None, **_) -> SuiteResult:
    from xner.export.build import export

    from .inference import build

    work = Path(tempfile.mkdtemp(prefix="xner-startup-"))
    model = build("tiny", work, data_dir)
    onnx = work / "onnx"
    export(str(model), onnx, "auto", force=True, threads=1)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    def xner():
        subprocess.run([sys.executable, "-P", "-m", "xner", "predict", "--model", str(onnx), "--text", TEXT], env=env,
                       check=True, capture_output=True)

    def hf():
        subprocess.run([sys.executable, "-c", HF, str(model), TEXT], env=env, check=True, capture_output=True)

    reps = 3 if quick else 5
    t = measure_interleaved({"xner predict --text (cold start)": xner,
                             "transformers pipeline (cold start)": hf}, repeats=reps, warmup=1, work=1.0,
                            unit="starts")
    res = SuiteResult("startup", settings={"text": TEXT, "model": "tiny (2 layers, 128 wide)"})
    a = res.add(t["xner predict --text (cold start)"], engine="xner")
    b = res.add(t["transformers pipeline (cold start)"], engine="transformers")
    res.ratio("cold start: xner predict vs a transformers pipeline", a, b)
    res.notes.append(f"xner predict cold start: median {a.median_s:.2f} s "
                     f"({'under' if a.median_s < 1.0 else 'over'} 1.0 s)")
    return res
