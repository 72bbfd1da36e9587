"""Clean vs perturbed evaluation of an exported model: one row per (perturbation, rate, seed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from xner.corpus import Corpus
from xner.io import atomic_write, dumps
from xner.metrics import EntityCounts, paired_bootstrap
from xner.provenance import provenance

from .incremental import PredictionCache
from .perturbations import DEFAULT_RATE, REGISTRY, Context, Rate, make, names, rate_params

__all__ = ["all_perturbations", "capped_warnings", "clean_cell", "evaluate", "finish_stage", "perturb_stage",
           "perturbation", "render", "run_cell", "run_meta", "write_rows"]


def _scores_row(counts: EntityCounts) -> dict:
    s = counts.scores()
    return {"precision": s.precision, "recall": s.recall, "f1": s.f1,
            "per_type": {t: v.f1 for t, v in s.per_type.items()}, "support": s.support}


def perturbation(name: str, rate: Rate = DEFAULT_RATE, params: dict | None = None):
    """The perturbation ``name`` at a parsed ``rate`` (:func:`parse_rate`): its own, a share, or None
    (every eligible unit); ``params`` (e.g. a recipe's, whose rate ``rate`` overrides) go to every part
    that has them."""
    return make(name, **{**(params or {}), **rate_params(rate)})


def _entry(item: str | tuple[str, dict]) -> tuple[str, dict]:
    return (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))


def clean_cell(runtime, corpus: Corpus, bootstrap: int = 1000,
               cache: PredictionCache | None = None) -> tuple[EntityCounts, dict]:
    """Encode, infer and score the clean test set: its counts (what perturbed cells are compared with)
    and its row (scores, bootstrap intervals, seconds per stage).  With a ``cache``, the clean
    predictions become the base of incremental evaluation (:mod:`incremental`)."""
    t0 = time.perf_counter()
    enc = runtime.encoder.encode(corpus)
    t1 = time.perf_counter()
    pred = runtime.predict(corpus, enc)
    t2 = time.perf_counter()
    if cache is not None:
        cache.set_clean(corpus, pred)
    clean = EntityCounts(corpus.tags, pred, corpus.offsets, corpus.labels.types)
    row = _scores_row(clean)
    row["ci"] = clean.bootstrap(bootstrap, 0) if bootstrap else {}
    row["sentences_inferred"] = len(corpus)
    row["seconds"] = {"perturb": 0.0, "encode": t1 - t0, "infer": t2 - t1, "score": time.perf_counter() - t2}
    return clean, row


def run_cell(runtime, corpus: Corpus, pert, seed: int, ctx: Context, clean_counts: EntityCounts,
             bootstrap: int = 1000, cache: PredictionCache | None = None, counts_out: list | None = None) -> dict:
    """Perturb, encode, infer and score one cell, timing each stage.  With a ``cache`` (filled by
    :func:`clean_cell`) only sentences the perturbation changed, and that the model has not tagged
    before, are inferred.  ``counts_out``, a list, receives the cell's :class:`EntityCounts`."""
    staged = perturb_stage(runtime, corpus, pert, seed, ctx, cache)
    return finish_stage(runtime, corpus, pert, seed, staged, clean_counts, bootstrap, cache, counts_out)


def perturb_stage(runtime, corpus: Corpus, pert, seed: int, ctx: Context,
                  cache: PredictionCache | None = None) -> tuple:
    """A cell's first stage: the perturbed test set, with its seconds (perturbing, and the model's word
    vectors a context swap asked for, counted in this thread only)."""
    if cache is not None:
        if cache.runtime is not runtime:
            raise ValueError("run_cell: the prediction cache was built for another runtime")
        if cache.clean is not corpus:
            raise ValueError("run_cell: the prediction cache was built on another test set "
                             "(clean_cell(runtime, corpus, cache=cache) first)")
    t0 = time.perf_counter()
    model_s = _thread_infer_seconds(runtime)
    r = pert.apply(corpus, seed, ctx)
    t1 = time.perf_counter()
    vectors = _thread_infer_seconds(runtime) - model_s  # the model's word vectors (context swap)
    return r, t1 - t0 - vectors, vectors


def _thread_infer_seconds(runtime) -> float:
    return getattr(runtime, "thread_infer_seconds", getattr(runtime, "infer_seconds", 0.0))


def finish_stage(runtime, corpus: Corpus, pert, seed: int, staged: tuple, clean_counts: EntityCounts,
                 bootstrap: int = 1000, cache: PredictionCache | None = None, counts_out: list | None = None) -> dict:
    """A cell's second stage: encode, infer (only what changed, with a ``cache``) and score the
    perturbed set of :func:`perturb_stage`; the cell's row."""
    r, perturb_s, vectors = staged
    t1 = time.perf_counter()
    if cache is not None:
        t2 = time.perf_counter()
        pred, inferred = cache.predict(r.corpus, r.edit)
        new_words = 0
    else:
        enc = runtime.encoder.encode(r.corpus)
        t2 = time.perf_counter()
        pred, inferred, new_words = runtime.predict(r.corpus, enc), len(r.corpus), enc.stats.new_words_tokenized
    t3 = time.perf_counter()
    counts = EntityCounts(r.corpus.tags, pred, r.corpus.offsets, corpus.labels.types)
    if counts_out is not None:
        counts_out.append(counts)
    row = _scores_row(counts)
    ci = paired_bootstrap(clean_counts, counts, bootstrap, seed) if bootstrap else {}
    t4 = time.perf_counter()
    clean = clean_counts.scores().f1
    stats = r.stats
    edited_pp = 100 * (stats["entity_edit_rate"] if pert.unit == "entities" else stats["token_edit_rate"])
    delta = row["f1"] - clean
    row.update({
        "clean_f1": clean, "delta_f1": delta, "relative_drop": -delta / clean if clean else None,  # undefined at F1 0
        "delta_per_edited_pp": (100 * delta) / edited_pp if edited_pp else None,
        "ci": ci, "edit": {k: v for k, v in stats.items() if k not in ("perturbation", "params", "parts")},
        "parts": stats.get("parts"),
        "seconds": {"perturb": perturb_s, "vectors": vectors, "encode": t2 - t1, "infer": t3 - t2,
                    "score": t4 - t3},
        "new_words_tokenized": new_words, "sentences_inferred": inferred,
    })
    return row


#: cells perturbed ahead of the one being inferred (bounds the perturbed copies held at once)
LOOKAHEAD = 2


def evaluate(runtime, corpus: Corpus, perturbations: list[str | tuple[str, dict]], rates: list[float | None] | None,
             seeds: list[int], ctx: Context, bootstrap: int = 1000, meta: dict | None = None,
             skip_missing: bool = True, incremental: bool = True,
             allow_batch_dependent: bool = False, pipeline: bool = True) -> Iterator[dict]:
    """Yield the clean row, then one row per perturbation x rate x seed.  A perturbation is a spec
    (``a+b``) or a (spec, parameters) pair, as a recipe lists them (:func:`..recipes.recipe_specs`);
    ``rates``, when given, override the parameters' rate.  ``incremental``: infer only what each
    perturbation changed (:mod:`incremental`); False re-infers every sentence of every cell.

    ``pipeline``: the next cells are perturbed in this thread while one worker thread infers and
    scores the current one (ONNX Runtime releases the GIL while it computes).  The worker takes the
    cells one at a time, in order, as the sequential loop would, so every row (and the prediction
    cache's content) is the same as with ``pipeline=False``; only the seconds overlap."""
    meta = dict(meta or {})
    cache = PredictionCache(runtime, allow_batch_dependent) if incremental else None
    clean, row = clean_cell(runtime, corpus, bootstrap, cache)
    yield {**meta, "perturbation": "clean", "rate": None, "seed": None, **row}
    cells = list(_cells(perturbations, rates, seeds, ctx, skip_missing))
    if not pipeline:
        for c in cells:
            yield {**meta, **c} if isinstance(c, dict) else _row(meta, c, run_cell(runtime, corpus, c[0], c[2], ctx, clean,
                                                                        bootstrap, cache))
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    pool = ThreadPoolExecutor(1, thread_name_prefix="xner-infer")
    try:
        for c in cells:
            while len(pending) >= LOOKAHEAD:
                yield _settle(meta, pending.popleft())
            if isinstance(c, dict):
                pending.append((None, c))
                continue
            try:
                staged = perturb_stage(runtime, corpus, c[0], c[2], ctx, cache)
            except Exception:
                while pending:  # the cells before it come out first (or their own error), as in turn
                    yield _settle(meta, pending.popleft())
                raise
            pending.append((c, pool.submit(finish_stage, runtime, corpus, c[0], c[2], staged, clean, bootstrap,
                                           cache)))
        while pending:
            yield _settle(meta, pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cells(perturbations, rates, seeds, ctx, skip_missing) -> Iterator:
    """(perturbation, rate, seed, params) per cell in order, or the row of a skipped perturbation."""
    for item in perturbations:
        name, params = _entry(item)
        for rate in (rates or [DEFAULT_RATE]):
            pert = perturbation(name, rate, params)
            missing = pert.missing(ctx)
            if missing and skip_missing:
                yield {"perturbation": pert.name, "skipped": f"needs {', '.join(sorted(set(missing)))}"}
                continue
            for seed in seeds:
                yield pert, rate, seed, params


def _row(meta: dict, c: tuple, cell: dict) -> dict:
    pert, rate, seed, params = c
    return {**meta, "perturbation": pert.name, "params": pert.params,
            "rate": params.get("rate") if rate == DEFAULT_RATE else rate, "seed": seed, **cell}


def _settle(meta: dict, item: tuple) -> dict:
    c, got = item
    return {**meta, **got} if c is None else _row(meta, c, got.result())


def all_perturbations() -> list[str]:
    return names()


def capped_warnings(stats: dict) -> list[str]:
    """One line per step whose asked rate the eligible material could not reach."""
    out = []
    for st in stats.get("parts") or [stats]:
        if st.get("capped"):
            unit = REGISTRY[st["perturbation"]].unit
            out.append(f"{st['perturbation']}: asked for {100 * float(st['requested_rate']):.2f}% of {unit}, but only "
                       f"{st.get('eligible')} are eligible: achieved {100 * st['achieved_rate']:.2f}% (capped)")
    return out


def write_rows(rows: list[dict], path: str | Path) -> None:
    atomic_write(path, (dumps(r) + "\n" for r in rows))


def render(rows: list[dict]) -> str:
    clean = next((r for r in rows if r.get("perturbation") == "clean"), None)
    head = f"{'perturbation':<34} {'rate':>5} {'seed':>4} {'clean F1':>8} {'pert. F1':>8} {'dF1':>7} " \
           f"{'95% CI dF1':>17} {'ent.ed.':>7} {'tok.ed.':>7}"
    lines = [head]
    if clean:
        lines.append(f"{'clean':<34} {'':>5} {'':>4} {clean['f1']:>8.4f} {'':>8} {'':>7}")
    for r in rows:
        if r.get("perturbation") == "clean":
            continue
        if "skipped" in r:
            lines.append(f"{r['perturbation']:<34} skipped: {r['skipped']}")
            continue
        ci = r["ci"].get("delta_f1")
        rate = "-" if r["rate"] is None else f"{r['rate']:.2f}"
        lines.append(f"{r['perturbation']:<34} {rate:>5} {r['seed']:>4} {r['clean_f1']:>8.4f} {r['f1']:>8.4f} "
                     f"{r['delta_f1']:>+7.4f} {f'[{ci[0]:+.4f}, {ci[1]:+.4f}]' if ci else '':>17} "
                     f"{r['edit']['entity_edit_rate']:>7.3f} {r['edit']['token_edit_rate']:>7.3f}")
    return "\n".join(lines)


def run_meta(**kw) -> dict:
    return {**kw, "provenance": provenance()}
