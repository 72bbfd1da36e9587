"""Small-job suite: the evaluation a user runs on a small model, end to end, against the path they
write without xner.

The job: a 2-layer, 128-wide model with mBERT's vocabulary, trained briefly on one language, scored on
1,000 test sentences clean and under six perturbations at a rate of 0.3 (seven sets).  xner: one
``xner evaluate`` command on the static int8 export (perturbing, encoding, inferring and scoring
included; start-up too).  Baseline: the perturbed sets written beforehand by ``xner perturb`` (not
timed), then one Python process that loads the PyTorch folder with transformers, tokenizes with the
fast tokenizer (first sub-token labels), predicts with PyTorch eager in batches of 32 and scores with
seqeval, seven times.  Both as whole commands, taking turns, median of 3; xner also without its
pipelined cells (``--no-pipeline``) and with the ordinary interpreter exit (``XNER_FULL_EXIT=1``), so
each of those gains is a ratio measured in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .harness import SuiteResult, measure_interleaved

__all__ = ["PERTURBATIONS", "run"]

PERTURBATIONS = ("name_swap", "place_swap", "entity_resample", "char_noise", "random_token", "lowercase")
HF = r'''
import sys, json
import torch
from seqeval.metrics import f1_score
from transformers import AutoModelForTokenClassification, AutoTokenizer
torch.set_num_threads(int(sys.argv[3]))
tok = AutoTokenizer.from_pretrained(sys.argv[1])
model = AutoModelForTokenClassification.from_pretrained(sys.argv[1]).eval()
id2label = model.config.id2label
out = {}
for path in sys.argv[2].split(","):
    sents, tags, s, t = [], [], [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if s: sents.append(s); tags.append(t); s, t = [], []
            continue
        w, g = line.split("\t")
        s.append(w); t.append(g)
    if s: sents.append(s); tags.append(t)
    pred = []
    for i in range(0, len(sents), 32):
        batch = sents[i:i + 32]
        enc = tok(batch, is_split_into_words=True, truncation=True, max_length=128, padding=True, return_tensors="pt")
        with torch.inference_mode():
            logits = model(**enc).logits.argmax(-1)
        for j, words in enumerate(batch):
            ids, seen, labels = enc.word_ids(j), set(), ["O"] * len(words)
            for k, w in enumerate(ids):
                if w is not None and w not in seen:
                    seen.add(w); labels[w] = id2label[int(logits[j, k])]
            pred.append(labels)
    out[path] = f1_score(tags, pred)
print(json.dumps(out))
'''


def run(quick: bool = False, data_dir: str | None = None, lang: str = "ms", **_) -> SuiteResult:
    from xner.datadir import DataDir
    from xner.formats import write_corpus
    from xner.hub import local_mbert_vocab

    from .data import default_data_dir

    res = SuiteResult("small", settings={"lang": lang, "perturbations": list(PERTURBATIONS), "rate": 0.3})
    d = default_data_dir(data_dir)
    if d is None or local_mbert_vocab(d) is None:
        res.notes.append("skipped: the small-job suite needs WikiANN data and mBERT's vocabulary beside it")
        return res
    work = Path(tempfile.mkdtemp(prefix="xner-small-"))
    n = 200 if quick else 1000
    test = DataDir(d).load(lang, "test")
    test = test.subset(np.arange(min(n, len(test))))
    data = work / "data" / lang
    data.mkdir(parents=True)
    write_corpus(test, data / "test.tsv", "tsv")
    train = DataDir(d).load(lang, "train")
    write_corpus(train.subset(np.arange(min(3000, len(train)))), data / "train.tsv", "tsv")
    threads = os.environ.get("OMP_NUM_THREADS") or "1"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": threads}
    x = [sys.executable, "-P", "-m", "xner"]

    def sh(*argv):
        p = subprocess.run([*x, *argv], env=env, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"xner {argv[0]} failed: {p.stderr[-2000:]}")
        return p.stdout

    sh("init-model", "--arch", "bert", "--vocab", str(local_mbert_vocab(d)), "--hidden", "128", "--layers", "2",
       "--heads", "2", "--max-length", "128", "--out", str(work / "m"), "-q")
    sh("train", "--model", str(work / "m"), "--data-dir", str(work / "data"), "--train-langs", lang, "--lang", lang,
       "--preset", "scratch", "--max-steps", "100" if quick else "300", "--out", str(work / "t"), "-q")
    sh("export", "--model", str(work / "t"), "--out", str(work / "o"), "--quantize", "int8", "--force", "-q")
    files = [str(data / "test.tsv")]
    for p in PERTURBATIONS:  # the baseline's perturbed sets, prepared beforehand (not timed)
        f = work / f"{p}.tsv"
        sh("perturb", "--data-dir", str(work / "data"), "--lang", lang, "--perturbation", p, "--rate", "0.3",
           "--seed", "0", "--out", str(f), "-q")
        files.append(str(f))
    ev = [*x, "evaluate", "--model", str(work / "o"), "--data-dir", str(work / "data"), "--lang", lang,
          "--perturbations", ",".join(PERTURBATIONS), "--rates", "0.3", "--seeds", "0", "--bootstrap", "0",
          "--threads", threads, "--json", "-q"]
    hf = [sys.executable, "-c", HF, str(work / "t"), ",".join(files), threads]
    got: dict = {}
    # the int8 export is the default xner evaluates; float32 of the same export is the like-for-like
    # comparison with the baseline's float32 PyTorch (the same F1 but for float rounding)
    report = json.loads((work / "o" / "export_report.json").read_text(encoding="utf-8"))
    int8_gate = bool((report.get("variants", {}).get(report.get("default", ""), {}) or {}).get("passed"))

    def xner():
        got["xner"] = json.loads(subprocess.run(ev, env=env, check=True, capture_output=True, text=True).stdout)

    def xner_fp32():
        got["xner_fp32"] = json.loads(subprocess.run([*ev, "--variant", "fp32"], env=env, check=True,
                                                     capture_output=True, text=True).stdout)

    def xner_steps(extra: list[str], env_extra: dict):  # the same command without one of the gains
        def run():
            subprocess.run([*ev, *extra], env={**env, **env_extra}, check=True, capture_output=True, text=True)
        return run

    def base():
        got["hf"] = json.loads(subprocess.run(hf, env=env, check=True, capture_output=True, text=True).stdout)

    base_name = "transformers + PyTorch eager + seqeval (sets prepared beforehand)"
    no_pipe, full_exit = "xner evaluate --no-pipeline (int8)", "xner evaluate, ordinary exit (XNER_FULL_EXIT=1, int8)"
    t = measure_interleaved({"xner evaluate (one command, static int8)": xner,
                             "xner evaluate --variant fp32 (one command)": xner_fp32,
                             no_pipe: xner_steps(["--no-pipeline"], {}),
                             full_exit: xner_steps([], {"XNER_FULL_EXIT": "1"}), base_name: base},
                            repeats=2 if quick else 3, warmup=0, work=7 * len(test), unit="sentences")
    a = res.add(t["xner evaluate (one command, static int8)"], engine="xner")
    a32 = res.add(t["xner evaluate --variant fp32 (one command)"], engine="xner")
    b = res.add(t[base_name], engine="baseline")
    # each gain against the same command without it, measured in this run (ratios, not requirements)
    res.ratio("pipelined cells vs --no-pipeline (int8)", a, res.add(t[no_pipe], engine="xner"), None)
    res.ratio("quick exit vs the ordinary exit (int8)", a, res.add(t[full_exit], engine="xner"), None)
    res.ratio("small job: xner evaluate (int8) vs the transformers path", a, b, None if quick or not int8_gate else 5.0)
    # the 5x requirement holds the default (int8) to it, or, when int8 failed its gate, float32
    res.ratio("small job: xner evaluate (fp32) vs the transformers path", a32, b, None if quick or int8_gate else 5.0)
    secs = got["xner"].get("seconds", {})
    res.settings.update(threads=threads, sentences=len(test), xner_time_line=secs, int8_gate_passed=int8_gate,
                        f1={"xner": {r["perturbation"]: r.get("f1") for r in got["xner"]["rows"]},
                            "xner_fp32": {r["perturbation"]: r.get("f1") for r in got["xner_fp32"]["rows"]},
                            "baseline": {Path(k).stem: v for k, v in got["hf"].items()}})
    if not int8_gate:
        res.notes.append("the int8 export failed its parity gate (kept with --force for timing): its F1 differs "
                         "from float32's, and its ratio is not held to the requirement; the fp32 ratio is like for like")
    res.notes.append("xner's time line: " + ", ".join(f"{k} {v:.2f} s" for k, v in secs.items()))
    return res
