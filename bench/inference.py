"""Inference suite: PyTorch eager vs ONNX Runtime fp32 / optimised / static and dynamic int8 (fp16 on a GPU).

Models are built by ``init_model`` with the mBERT vocabulary (random weights: latency does not
depend on their values), exported through the same code users run, gated (the gate results are
recorded), and timed on identical padded batches, the engines taking turns round by round.  A second
part compares length-bucketed batching with naive padding to 128 on real WikiANN sentence lengths.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from xner.hub import local_mbert_vocab

from .data import bench_corpus, default_data_dir
from .harness import SuiteResult, measure, measure_interleaved

SIZES = {
    "tiny": {"hidden": 128, "layers": 2, "heads": 2},
    "bert-base": {"hidden": 768, "layers": 12, "heads": 12},
}


def _vocab(data_dir: str | None) -> str | None:
    v = local_mbert_vocab(default_data_dir(data_dir))
    return str(v) if v else None


_BUILT: dict[tuple[str, str | None], Path] = {}


def build(size: str, work: Path, data_dir: str | None) -> Path:
    """A random-init model of a size, built once per process and shared by the suites."""
    key = (size, data_dir)
    if key in _BUILT and _BUILT[key].exists():
        return _BUILT[key]
    _BUILT[key] = _build(size, work, data_dir)
    return _BUILT[key]


def _build(size: str, work: Path, data_dir: str | None) -> Path:
    from xner.training.models import init_model

    spec = SIZES[size]
    vocab = _vocab(data_dir)
    if vocab:
        return init_model("bert", work / size, vocab=vocab, max_length=512, **spec)
    # no data folder: a tokenizer trained on generated text (vocabulary size differs from mBERT)
    from xner.formats import write_corpus

    c = bench_corpus(None, 50_000)
    f = work / "gen.tsv"
    write_corpus(c, f)
    return init_model("bert", work / size, train_tokenizer_on=[str(f)], vocab_size=30000, max_length=512, **spec)


def parse_shapes(spec: str | None) -> list[tuple[int, int]] | None:
    if not spec:
        return None
    from xner.errors import XnerError

    out = []
    for part in spec.split(","):
        try:
            b, n = (int(x) for x in part.strip().lower().split("x"))
        except ValueError:
            b = n = 0
        if b < 1 or not 1 <= n <= 512:
            raise XnerError(f"--shapes takes BATCHxLENGTH[,...] with a length of 1-512, e.g. 32x128; got {part!r}")
        out.append((b, n))
    return out


def run(quick: bool = False, data_dir: str | None = None, device: str = "cpu", models: list[str] | None = None,
        shapes: list[tuple[int, int]] | None = None, bucketing: bool = True) -> SuiteResult:
    import torch

    from xner.export.build import export
    from xner.export.runtime import Runtime
    from xner.hf import load_model
    from xner.threads import omp_threads

    threads = omp_threads()
    torch.set_num_threads(threads)
    sizes = models or (["tiny"] if quick else ["tiny", "bert-base"])
    shapes = shapes or ([(32, 128)] if quick else [(1, 32), (1, 128), (8, 32), (8, 128), (32, 32), (32, 128)])
    res = SuiteResult("inference", settings={"threads": threads, "device": device, "sizes": sizes})
    tiny_o2 = None
    work = Path(tempfile.mkdtemp(prefix="xner-bench-"))
    cuda = device == "cuda"
    for size in sizes:
        mdir = build(size, work, data_dir)
        # int8: static QDQ (what --quantize int8 makes: batch-independent); int8-dynamic: scales per batch
        variants = {"ort-fp32": {}, "ort-O2": {"level": "O2"}, "ort-int8": {"level": "O2", "quantize": "int8"},
                    "ort-int8-dynamic": {"level": "O2", "quantize": "int8-dynamic"}}
        if quick:
            variants.pop("ort-fp32")
        if cuda:
            variants = {"ort-fp32": {}, "ort-O2": {"level": "O2"}, "ort-fp16": {"level": "O2", "fp16": True}}
        runtimes = {}
        for name, kw in variants.items():
            rep = export(str(mdir), work / f"{size}-{name}", "auto", force=True, threads=threads,
                         provider="cuda" if cuda else "cpu", **kw)
            g = rep["gates"][-1]
            res.notes.append(f"{size} {name}: gate {'passed' if g['passed'] else 'FAILED'} (max|diff| "
                             f"{g['max_abs_diff']:.1e}, agreement {g['tag_agreement']:.4f})")
            runtimes[name] = Runtime(work / f"{size}-{name}", provider="cuda" if cuda else "cpu", threads=threads)
        if size == "tiny":
            tiny_o2 = work / f"{size}-ort-O2"
        model = load_model(str(mdir)).eval()
        if cuda:
            model = model.cuda()
        rng = np.random.default_rng(0)
        vocab = int(model.config.vocab_size)  # a tokenizer trained on generated text can be smaller than mBERT's
        for b, L in shapes:
            ids = rng.integers(min(1000, vocab // 2), min(20000, vocab), (b, L)).astype(np.int64)
            mask = np.ones_like(ids)
            # bert-base at 32x128 carries the issue's thresholds: 9 rounds (~3 min) for a stable median
            reps = 9 if (size, b, L) == ("bert-base", 32, 128) else 5 if (size == "bert-base" and b * L >= 4096) else 10
            tids = torch.from_numpy(ids)
            tmask = torch.from_numpy(mask)
            if cuda:
                tids, tmask = tids.cuda(), tmask.cuda()

            def pt(model=model, tids=tids, tmask=tmask):
                with torch.inference_mode():
                    model(input_ids=tids, attention_mask=tmask)
                if cuda:
                    torch.cuda.synchronize()

            tag = f"{size} b{b}x{L}"
            cases = {f"{tag} pytorch-eager": pt}
            cases.update({f"{tag} {name}": (lambda rt=rt, ids=ids, mask=mask: rt.run_batch(ids, mask))
                          for name, rt in runtimes.items()})
            # engines take turns round by round, so machine drift cannot favour one of them
            timings = measure_interleaved(cases, repeats=reps, work=b, unit="sentences")
            base = res.add(timings[f"{tag} pytorch-eager"], model=size, batch=b, length=L, engine="pytorch")
            timed = {}
            for name in runtimes:
                t = res.add(timings[f"{tag} {name}"], model=size, batch=b, length=L, engine=name)
                required = None
                if size == "bert-base" and (b, L) == (32, 128):
                    required = {"ort-O2": 1.1, "ort-int8-dynamic": 2.0}.get(name)
                res.ratio(f"{tag} {name}", t, base, required)
                timed[name] = t
            if "ort-int8" in timed and "ort-int8-dynamic" in timed:  # static vs dynamic int8, same run
                res.ratio(f"{tag} static int8 vs dynamic int8", timed["ort-int8"], timed["ort-int8-dynamic"])
            if "ort-int8" in timed and "ort-fp32" in timed:
                res.ratio(f"{tag} static int8 vs ort-fp32", timed["ort-int8"], timed["ort-fp32"])
    if bucketing and "tiny" in sizes:
        _bucketing(res, data_dir, threads, quick, work, tiny_o2)
    return res


def _bucketing(res: SuiteResult, data_dir: str | None, threads: int, quick: bool, work: Path,
               odir: Path | None = None) -> None:
    """Length-bucketed batches under a token budget vs fixed batches padded to 128."""
    from xner.encode import pad_rows
    from xner.export.build import export
    from xner.export.runtime import Runtime

    if odir is None or not odir.exists():  # reuse the suite's O2 export when there is one
        odir = work / "tiny-bucket"
        export(str(build("tiny", work, data_dir)), odir, "auto", level="O2", force=True, threads=threads)
    rt = Runtime(odir, provider="cpu", threads=threads)
    c = bench_corpus(data_dir, 20_000 if quick else 100_000)
    enc = rt.encoder.encode(c)

    def bucketed():
        rt.logits(c, enc)

    def naive():
        order = np.arange(enc.n_segments)
        for i in range(0, order.size, 32):
            ids, mask = pad_rows(enc.ids, enc.row_offsets, order[i : i + 32], 128, enc.pad_id)
            rt.run_batch(ids, mask)

    def big_batches():  # the budget every CPU run used before the default became CPU_TOKEN_BUDGET
        for _idx, ids, mask in enc.batches(8192, rt.max_batch):
            rt.run_batch(ids, mask)

    n = float(len(c))
    a = res.add(measure(f"tiny WikiANN length-bucketed (budget {rt.token_budget} tokens, the CPU default)", bucketed,
                        repeats=3, work=n, unit="sentences"), engine="bucketed")
    b = res.add(measure("tiny WikiANN naive batch 32 padded to 128", naive, repeats=3, work=n, unit="sentences"),
                engine="naive")
    big = res.add(measure("tiny WikiANN length-bucketed (budget 8192 tokens)", big_batches, repeats=3, work=n,
                          unit="sentences"), engine="bucketed")
    res.ratio("bucketing", a, b)
    res.ratio(f"token budget {rt.token_budget} vs 8192", a, big)
    res.settings["bucketing_corpus"] = f"{len(c)} sentences, mean {c.lengths.mean():.1f} words ({c.source})"
