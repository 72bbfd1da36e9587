"""One prepared check for a GPU machine lent for a few minutes (``bench/device_check.sh``).

That machine reaches no package registry and takes at most 64 MiB of files, so nothing is installed
there: the project runs from its checkout under the machine's own python3 and packages (torch with
CUDA, transformers, onnxruntime, numba).  Within that it checks what can be checked, each step timed
and bounded, and writes ``device_check.json`` and ``device_check.md``:

* which execution providers onnxruntime lists and which one really runs;
* training and distillation on CUDA (a few hundred steps, bert-base sized, generated data);
* PyTorch fp16 inference at batch 32 x 128 and at WikiANN-like lengths with length bucketing, as
  sentences per second and as a share of the GPU's dense fp16 peak (bert-base: about 22 GFLOP per
  128-token sentence);
* the perturbation engine on every core;
* where a GPU build of onnxruntime is present, the same inference through ORT CUDA fp16 and
  TensorRT (engine cache and shape profiles), gated on CUDA; else it says the build lacks them.

``--dry-run`` runs every step on the CPU with tiny sizes, up to the GPU calls (a test runs it).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

BERT_BASE_GFLOP_128 = 22.0  # forward pass, one 128-token sentence
PEAKS_TFLOPS = {"H200": 990.0, "H100": 990.0, "A100": 312.0, "L4": 121.0}


def _peak(name: str) -> float | None:
    return next((v for k, v in PEAKS_TFLOPS.items() if k in name), None)


def _data(root: Path, n: int, seed: int = 0) -> Path:
    """WikiANN-shaped generated data (no network, no Faker): Zipf-like words, entity chunks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyzابتثجحخدذرزسشصضطظعغفقكلمنهوي")
    vocab = ["".join(rng.choice(letters, rng.integers(2, 10))) for _ in range(3000)]
    types = ["PER", "ORG", "LOC"]
    for lang in ("xa", "xb"):
        for split, m in (("train", n), ("test", max(50, n // 4))):
            lines = []
            for _ in range(m):
                length = int(min(60, max(3, rng.lognormal(2.0, 0.6))))
                k = 0
                while k < length:
                    if rng.random() < 0.15:
                        t = types[int(rng.integers(0, 3))]
                        for j in range(int(rng.integers(1, 4))):
                            lines.append(f"{vocab[int(rng.zipf(1.3)) % 3000]}\t{'B' if j == 0 else 'I'}-{t}")
                            k += 1
                    else:
                        lines.append(f"{vocab[int(rng.zipf(1.3)) % 3000]}\tO")
                        k += 1
                lines.append("")
            d = root / lang
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


class Check:
    def __init__(self, dry: bool, out: Path):
        self.dry, self.out, self.results = dry, out, {}

    def step(self, name: str, fn) -> None:
        t0 = time.perf_counter()
        print(f"[device_check] {name} ...", file=sys.stderr, flush=True)
        try:
            r = fn()
            self.results[name] = {"ok": True, **(r or {}), "seconds": round(time.perf_counter() - t0, 1)}
        except Exception as e:  # a failed step is recorded, the others still run
            self.results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}",
                                  "trace": traceback.format_exc(limit=3), "seconds": round(time.perf_counter() - t0, 1)}
        print(f"[device_check] {name}: {self.results[name]}", file=sys.stderr, flush=True)


def providers() -> dict:
    import onnxruntime as ort
    import torch

    cuda = torch.cuda.is_available()
    return {"onnxruntime": ort.__version__, "ort_providers": ort.get_available_providers(),
            "torch": torch.__version__, "torch_cuda": cuda,
            "gpu": torch.cuda.get_device_name(0) if cuda else None,
            "ort_gpu_build": "CUDAExecutionProvider" in ort.get_available_providers()}


def train_and_distill(work: Path, data: Path, dry: bool) -> dict:
    from xner.datadir import DataDir
    from xner.training import distill, finetune, init_model, resolve

    size = dict(hidden=64, layers=2, heads=2) if dry else dict(hidden=768, layers=12, heads=12)
    src = DataDir(data)
    files = [str(data / lang / "train.tsv") for lang in ("xa", "xb")]
    m = init_model("bert", work / "init", train_tokenizer_on=files, max_length=128, vocab_size=4000, **size)
    steps = 10 if dry else 300
    t0 = time.perf_counter()
    card = finetune(str(m), [src.load("xa", "train")], src.load("xa", "test"), work / "teacher",
                    resolve("study", max_steps=steps, batch_size=32, lr=5e-5), seed=0)
    train_s = time.perf_counter() - t0
    target = src.load("xb", "train")
    import numpy as np

    t0 = time.perf_counter()
    dcard = distill([str(work / "teacher")], target.with_tags(np.zeros_like(target.tags)), str(work / "teacher"),
                    work / "student", resolve("student", max_steps=steps // 2, batch_size=32), seed=0,
                    eval_corpus=src.load("xb", "test"))
    import torch

    return {"device": "cuda" if torch.cuda.is_available() else "cpu", "train_steps": card["steps"],
            "train_steps_per_s": round(card["steps"] / train_s, 2), "train_f1": round(card["eval"]["f1"], 4),
            "distill_steps": dcard["steps"], "distill_s": round(time.perf_counter() - t0, 1),
            "teacher": str(work / "teacher")}


def torch_inference(teacher: str, data: Path, dry: bool) -> dict:
    import numpy as np
    import torch

    from xner.datadir import DataDir
    from xner.encode import WordEncoder
    from xner.hf import load_model, load_tokenizer

    dev = "cuda" if torch.cuda.is_available() and not dry else "cpu"
    dtype = torch.float16 if dev == "cuda" else torch.float32
    model = load_model(teacher).to(dev, dtype).eval()
    out: dict = {"device": dev, "dtype": str(dtype)}
    batch, length, reps = (4, 32, 2) if dry else (32, 128, 50)
    ids = torch.randint(5, 1000, (batch, length), device=dev)
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        for _ in range(3):
            model(input_ids=ids, attention_mask=mask)
        if dev == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            model(input_ids=ids, attention_mask=mask)
        if dev == "cuda":
            torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / reps
    sps = batch / dt
    out[f"fixed_{batch}x{length}_sentences_per_s"] = round(sps, 1)
    name = torch.cuda.get_device_name(0) if dev == "cuda" else ""
    peak = _peak(name)
    if peak and not dry:
        out["share_of_fp16_peak"] = round(sps * BERT_BASE_GFLOP_128 * (length / 128) / 1000 / peak, 4)
    corpus = DataDir(data).load("xa", "test")
    enc = WordEncoder(load_tokenizer(teacher), 128).encode(corpus)
    with torch.inference_mode():
        t0 = time.perf_counter()
        n = 0
        for _, b_ids, b_mask in enc.batches(8192 if not dry else 512):
            model(input_ids=torch.from_numpy(b_ids).to(dev), attention_mask=torch.from_numpy(b_mask).to(dev))
            n += b_ids.shape[0]
        if dev == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    out["bucketed_sentences_per_s"] = round(n / dt, 1)
    out["bucketed_mean_length"] = round(float(np.mean(enc.lengths)), 1)
    return out


def ort_gpu(teacher: str, data: Path, work: Path, dry: bool) -> dict:
    import onnxruntime as ort

    from xner.datadir import DataDir

    have = ort.get_available_providers()
    if "CUDAExecutionProvider" not in have:
        return {"skipped": f"this onnxruntime build has no CUDA provider (has {', '.join(have)})"}
    from xner.export import Runtime, export

    ev = DataDir(data).load("xa", "test")
    export(teacher, work / "onnx_fp16", "torch", fp16=True, eval_corpus=ev, provider="cuda", force=True)
    out = {}
    for prov in ("cuda", "tensorrt"):
        if {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[prov] not in have:
            out[prov] = "not in this build"
            continue
        os.environ.setdefault("ORT_TENSORRT_ENGINE_CACHE_ENABLE", "1")
        os.environ.setdefault("ORT_TENSORRT_CACHE_PATH", str(work / "trt_cache"))
        rt = Runtime(work / "onnx_fp16", provider=prov)
        rt.predict(ev)  # warm-up (TensorRT builds its engines here)
        t0 = time.perf_counter()
        rt.predict(ev)
        out[prov] = {"runs": rt.provider, "sentences_per_s": round(len(ev) / (time.perf_counter() - t0), 1)}
    return out


def perturbations(data: Path, dry: bool) -> dict:
    from xner.datadir import DataDir
    from xner.robustness import Context, apply_batched, make

    c = DataDir(data).load("xa", "train")
    out = {"cores": os.cpu_count()}
    for name in ("char_noise", "entity_resample", "random_token"):
        apply_batched(make(name), c.subset(range(min(50, len(c)))), 0, Context(lang="xa"))  # compile first
        t0 = time.perf_counter()
        r = apply_batched(make(name), c, 0, Context(lang="xa"), batch_size=max(1, len(c) // 16),
                          workers=os.cpu_count() or 1)
        out[name] = {"tokens_per_s": round(c.n_tokens / (time.perf_counter() - t0)),
                     "tokens_edited": int(r.stats["tokens_edited"])}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="device_check", description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU, up to the GPU calls")
    ap.add_argument("--out", default="bench/results", help="folder for device_check.json / .md")
    ap.add_argument("--sentences", type=int, default=None, help="training sentences per language")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="xner-device-"))
    data = _data(work / "data", args.sentences or (200 if args.dry_run else 8000))
    check = Check(args.dry_run, out)
    check.step("providers", providers)
    check.step("train_and_distill", lambda: train_and_distill(work, data, args.dry_run))
    teacher = check.results["train_and_distill"].get("teacher")
    if teacher:
        check.step("torch_inference", lambda: torch_inference(teacher, data, args.dry_run))
        if not args.dry_run:
            check.step("ort_gpu", lambda: ort_gpu(teacher, data, work, args.dry_run))
    check.step("perturbations", lambda: perturbations(data, args.dry_run))
    from xner.io import write_json
    from xner.provenance import provenance

    report = {"dry_run": args.dry_run, "machine": platform.platform(), "steps": check.results,
              "provenance": provenance()}
    write_json(out / "device_check.json", report)
    lines = ["# device check" + (" (dry run)" if args.dry_run else ""), ""]
    for name, r in check.results.items():
        lines.append(f"- **{name}** ({'ok' if r['ok'] else 'FAILED'}, {r['seconds']} s): "
                     + ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("ok", "seconds", "trace")))
    (out / "device_check.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if all(r["ok"] for r in check.results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
