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
    xner = [sys.executable, "-P", "-m", "xner"]
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
    infer_s = sum(float((v.get("seconds") or {}).get("infer", 0.0)) for v in rows.values())
    res.settings["limit"] = _limit(corpus, inferred, size, work / "onnx", infer_s)
    from .peer_steps import run_steps

    res.settings["steps"] = steps = run_steps(model, work / "onnx", corpus, TESTS, lang)
    res.notes.append(f"export to static int8 (once per model): {t_exp:.1f} s, not in the xner wall")
    res.notes.append(f"langtest phases: {lt['seconds']}; {lt['cases']} test cases")
    for t, v in per.items():
        res.notes.append(f"{t}: xner {v['xner']}@{v['rate']} F1 {v['f1']} (clean {v['clean_f1']}, "
                         f"{v['sentences_inferred']} sentences inferred); langtest pass rate "
                         f"{v['langtest'].get('pass_rate')}, agreement F1 {v['langtest'].get('agreement_f1')}")
    lim = res.settings["limit"]
    res.notes.append(f"limit: {lim['sentences_inferred']} sentences to infer (mean {lim['pieces_per_sentence']} pieces) x "
                     f"{lim['gop_per_sentence']:.2f} GOP each = {lim['gop']:.0f} GOP; at this CPU's int8 matrix "
                     f"throughput ({lim['gemm_gops']:.0f} GOP/s, one MatMulInteger in onnxruntime) that is "
                     f"{lim['seconds']:.1f} s at best; xner's inference took {lim['infer_seconds']:.1f} s "
                     f"({lim['infer_over_limit']:.1f}x the limit); the export's graph reaches {lim['graph_gops']:.0f} "
                     f"GOP/s on a full 32 x 128 batch")
    from .peer_steps import ROUNDS

    res.notes.append(f"steps (in this process, the same sentences and test types, one change at a time; medians of "
                     f"{ROUNDS} interleaved rounds):")
    for st in steps:
        same = "" if "same_rows" not in st else f"; rows {'identical to' if st['same_rows'] else 'DIFFER from'} " \
            "the step before"
        res.notes.append(f"  {st['step']}: {st['seconds']:.2f} s (inference {st['infer_seconds']:.2f} s)"
                         + (f", {st['ratio_to_previous']:.2f}x the step before, {st['ratio_to_before']:.2f}x before"
                            if "ratio_to_previous" in st else "") + same)
    return res


def _limit(corpus, inferred: int, size: str, onnx_dir: Path, infer_seconds: float) -> dict:
    """The least time xner's inference can take on this CPU: the multiply-adds of the sentences it must
    infer, counted at the clean sentences' lengths (perturbed ones are as long or longer: uppercasing
    splits words into more pieces, so this undercounts the work and the limit stays a lower bound) (per
    layer and word piece, two operations per weight of Q, K,
    V, the output and the two feed-forward matrices, plus the two attention products, which grow with
    the sentence's length), against this CPU's int8 matrix-multiply throughput measured in the same
    run (one large ``MatMulInteger`` in onnxruntime, all threads: :func:`_int8_gemm_gops`).  Every
    operation is counted at int8 speed (attention runs in float32), so the limit is a lower bound.
    Beside it: the throughput the export's own graph reaches on a full, padding-free 32 x 128 batch,
    and how far the inference xner measured is from the limit."""
    from .inference import SIZES

    spec = SIZES[size]
    h, layers = spec["hidden"], spec["layers"]
    lengths = _pieces(corpus, onnx_dir).astype(np.float64)
    linear = 2 * layers * (4 * h * h + 2 * h * 4 * h)  # operations per piece
    attn = 2 * layers * 2 * h  # operations per piece per piece of its sentence (QK^T and AV)
    ops_per_sentence = float((linear * lengths + attn * lengths**2).mean())
    gop = inferred * ops_per_sentence / 1e9
    gemm = _int8_gemm_gops()
    graph = _graph_gops(onnx_dir, linear + attn * 128)
    limit = gop / gemm if gemm else float("nan")
    return {"sentences_inferred": inferred, "pieces_per_sentence": round(float(lengths.mean()), 1),
            "gop_per_sentence": ops_per_sentence / 1e9, "gop": gop, "gemm_gops": gemm, "graph_gops": graph,
            "seconds": limit, "infer_seconds": infer_seconds,
            "infer_over_limit": infer_seconds / limit if limit else float("nan")}


def _pieces(corpus, onnx_dir: Path) -> np.ndarray:
    from xner.export.runtime import Runtime

    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    return np.asarray(rt.encoder.encode(corpus).lengths)


def _int8_gemm_gops(m: int = 4096, k: int = 768, n: int = 3072) -> float:
    """This CPU's int8 matrix-multiply throughput through onnxruntime (GOP/s, median of 15): one
    ``MatMulInteger`` of uint8 [m, k] by int8 [k, n], the machine's threads."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "B")
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "gemm",
                              [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    sess.run(None, {"A": a})
    times = []
    for _ in range(15):  # the median: on a shared virtual machine single runs scatter by 2-5x
        t0 = time.perf_counter()
        sess.run(None, {"A": a})
        times.append(time.perf_counter() - t0)
    return 2 * m * k * n / float(np.median(times)) / 1e9


def _graph_gops(onnx_dir: Path, ops_per_piece: float) -> float:
    """GOP/s the export's int8 graph reaches on a full 32 x 128 batch (best of 3, the machine's threads)."""
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
    return 32 * 128 * ops_per_piece / best / 1e9
