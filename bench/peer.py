"""Peer suite: the job users run langtest for, side by side with xner, in one run.

langtest (its own environment: ``--peer-python PATH``, built as docs/performance.md says) runs its
robustness tests (add_typo, lowercase, uppercase, titlecase, strip_punctuation, add_punctuation) on a
bert-base-sized Hugging Face folder and the same WikiANN sentences with PyTorch, one sample per call;
xner runs the same test types on that folder exported to static int8 ONNX (`xner evaluate`,
incremental). Both sides run as whole commands (wall clock, imports and loading included); the export
is timed apart (done once per model). Printed: both walls, the ratio, each side's numbers per test
type, and the arithmetic limit of xner's inference (the int8 operations of the sentences it must
infer against the CPU's measured int8 throughput).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .harness import SuiteResult, Timing

__all__ = ["TESTS", "run"]

#: langtest test type -> (xner perturbation, rate): the case tests change every cased word of a
#: sentence (rate 1: every eligible word); the punctuation and typo tests about one word per sentence
TESTS = {"add_typo": ("keyboard_typo", 0.1), "lowercase": ("lowercase", 1.0), "uppercase": ("uppercase", 1.0),
         "titlecase": ("titlecase", 1.0), "strip_punctuation": ("strip_punctuation", 0.1),
         "add_punctuation": ("add_punctuation", 0.1)}
SENTENCES = 1000


def _timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, p


def _write_conll(corpus, path: Path) -> None:
    """CoNLL-2003 layout as langtest reads it: word, POS, chunk, NER per line (POS and chunk unknown)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("-DOCSTART- -X- -X- O\n\n")
        for words, tags in zip(corpus.sentences(), corpus.tag_lists(), strict=True):
            for w, t in zip(words, tags, strict=True):
                f.write(f"{w} -X- -X- {t}\n")
            f.write("\n")


def run(quick: bool = False, data_dir: str | None = None, peer_python: str | None = None, lang: str = "ms",
        **_) -> SuiteResult:
    from xner.datadir import DataDir

    from .data import default_data_dir
    from .inference import build

    res = SuiteResult("peer", settings={"lang": lang, "tests": list(TESTS), "peer_python": peer_python})
    if not peer_python or not Path(peer_python).exists():
        res.notes.append("skipped: no langtest environment (--peer-python PATH; how to build one: "
                         "docs/performance.md, 'The peer suite')")
        return res
    d = default_data_dir(data_dir)
    if d is None:
        res.notes.append("skipped: the peer suite needs WikiANN data (--data-dir)")
        return res
    n = 100 if quick else SENTENCES
    corpus = DataDir(d).load(lang, "test")
    corpus = corpus.subset(np.arange(min(n, len(corpus))))
    work = Path(tempfile.mkdtemp(prefix="xner-peer-"))
    size = "tiny" if quick else "bert-base"
    model = build(size, work, d)
    conll = work / "test.conll"
    _write_conll(corpus, conll)
    data = work / "data" / lang
    data.mkdir(parents=True)
    from xner.formats import write_corpus

    write_corpus(corpus, data / "test.tsv", "tsv")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    xner = [sys.executable, "-m", "xner"]
    # xner: the export (once per model), then the evaluation of the same test types
    t_exp, p = _timed([*xner, "export", "--model", str(model), "--out", str(work / "onnx"), "--quantize", "int8",
                       "--force", "-q"], env)
    if p.returncode != 0:
        raise RuntimeError(f"xner export failed: {p.stderr[-2000:]}")
    perts = ",".join(f"{TESTS[t][0]}:{TESTS[t][1]}" for t in TESTS)
    t_x, p = _timed([*xner, "evaluate", "--model", str(work / "onnx"), "--data-dir", str(work / "data"), "--lang",
                     lang, "--perturbations", perts, "--bootstrap", "0", "--json", "-q"], env)
    if p.returncode != 0:
        raise RuntimeError(f"xner evaluate failed: {p.stderr[-2000:]}")
    ev = json.loads(p.stdout)
    rows = {r["perturbation"]: r for r in ev["rows"]}
    # the peer: langtest in its own environment
    script = Path(__file__).with_name("peer_langtest.py")
    out = work / "langtest.json"
    t_p, p = _timed([peer_python, str(script), "--model", str(model), "--data", str(conll), "--tests",
                     ",".join(TESTS), "--out", str(out)], env)
    if p.returncode != 0:
        raise RuntimeError(f"langtest failed ({peer_python}): {p.stderr[-3000:]}")
    lt = json.loads(out.read_text(encoding="utf-8"))
    a = res.add(Timing("xner evaluate (static int8, incremental)", t_x, t_x, t_x, 1, len(corpus), "sentences"),
                engine="xner")
    b = res.add(Timing(f"langtest {lt['langtest']} (PyTorch fp32)", t_p, t_p, t_p, 1, len(corpus), "sentences"),
                engine="langtest")
    res.ratio("xner vs langtest, the same test types (wall)", a, b)
    res.settings.update(export_seconds=round(t_exp, 1), langtest=lt, sentences=len(corpus), model=size)
    per = {}
    for t, (name, rate) in TESTS.items():
        r = rows.get(name, {})
        per[t] = {"xner": name, "rate": rate, "clean_f1": rows.get("clean", {}).get("f1"), "f1": r.get("f1"),
                  "delta_f1": r.get("delta_f1"), "sentences_inferred": r.get("sentences_inferred"),
                  "tokens_edited": (r.get("edit") or {}).get("tokens_edited"),
                  "langtest": lt["per_test"].get(t, {})}
    res.settings["per_test"] = per
    inferred = sum(int(v.get("sentences_inferred") or 0) for v in rows.values())
    res.settings["limit"] = _limit(corpus, inferred, size, work / "onnx")
    res.notes.append(f"export to static int8 (once per model): {t_exp:.1f} s, not in the xner wall")
    res.notes.append(f"langtest phases: {lt['seconds']}; {lt['cases']} test cases")
    for t, v in per.items():
        res.notes.append(f"{t}: xner {v['xner']}@{v['rate']} F1 {v['f1']} (clean {v['clean_f1']}, "
                         f"{v['sentences_inferred']} sentences inferred); langtest pass rate "
                         f"{v['langtest'].get('pass_rate')}, agreement F1 {v['langtest'].get('agreement_f1')}")
    lim = res.settings["limit"]
    res.notes.append(f"limit: {lim['sentences_inferred']} sentences x {lim['pieces_per_sentence']} pieces = {lim['tokens']} "
                     f"tokens to infer x {lim['gop_per_token']:.3f} int8 GOP/token = {lim['gop']:.0f} GOP; at the "
                     f"{lim['gops']:.0f} GOP/s the same graph reaches on a full 32 x 128 batch that is "
                     f"{lim['seconds']:.1f} s of inference at best")
    return res


def _limit(corpus, inferred: int, size: str, onnx_dir: Path) -> dict:
    """The least time xner's inference can take: the int8 multiply-adds of the sentences it must infer
    (two operations per weight per word piece: Q, K, V, output and the two feed-forward matrices of
    every layer; attention products and the head besides) at the throughput the same int8 graph
    reaches on a full, padding-free 32 x 128 batch on this CPU (the best case: real batches are
    shorter and ragged)."""
    from .inference import SIZES

    spec = SIZES[size]
    h, layers = spec["hidden"], spec["layers"]
    per_layer = 4 * h * h + 2 * h * 4 * h
    gop_per_token = 2 * layers * per_layer / 1e9
    pieces = _mean_pieces(corpus, onnx_dir)
    tokens = inferred * pieces
    gops = _int8_gops(onnx_dir, gop_per_token)
    return {"sentences_inferred": inferred, "pieces_per_sentence": round(pieces, 1), "tokens": int(tokens),
            "gop_per_token": gop_per_token, "gop": gop_per_token * tokens, "gops": gops,
            "seconds": gop_per_token * tokens / gops if gops else float("nan")}


def _mean_pieces(corpus, onnx_dir: Path) -> float:
    from xner.export.runtime import Runtime

    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    return float(rt.encoder.encode(corpus).lengths.mean())


def _int8_gops(onnx_dir: Path, gop_per_token: float) -> float:
    """GOP/s of the export's int8 graph on a full 32 x 128 batch (best of 3, the machine's threads)."""
    from xner.export.runtime import Runtime

    rt = Runtime(onnx_dir, provider="cpu")
    ids = np.random.default_rng(0).integers(1000, 20000, (32, 128)).astype(np.int64)
    mask = np.ones_like(ids)
    rt.run_batch(ids, mask)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        rt.run_batch(ids, mask)
        best = min(best, time.perf_counter() - t0)
    return 32 * 128 * gop_per_token / best
