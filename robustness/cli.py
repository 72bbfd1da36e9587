"""Subcommands ``perturb`` and ``evaluate``."""

from __future__ import annotations

import argparse

from xner.cli import command, emit, logs_to
from xner.console import progress, say
from xner.errors import XnerError
from xner.options import (
    add_console,
    add_data,
    add_lang,
    add_out,
    add_overwrite,
    add_runtime,
    add_seed,
    add_split,
    add_train_langs,
)
from xner.outputs import claim_file, record_file

from .recipes import RECIPES


def _add_common(p: argparse.ArgumentParser) -> None:
    add_data(p)
    add_lang(p, help="the test language")
    add_split(p, "test")
    add_train_langs(p, required=False, help="the training language (needed by entity_swap_shared and "
                    "context_swap)")
    p.add_argument("--pool", default=None, help="name/place pool: auto (the target's own), faker:LOCALE, cldr:LANG, "
                   "wikiann:LANG, file:PATH or nearest")
    p.add_argument("--mlm", default=None, help="masked LM (folder or hub id) filling context_mask")
    p.add_argument("--vectors", default=None, help="context_swap's word vectors: a model folder, hub id or ONNX "
                   "export (one per experiment); default: the pre-trained base model of --model")


def _context(args, runtime=None, needs_vectors: bool = True):
    from xner.datadir import open_source
    from xner.splits import load_split

    from .perturbations import Context

    src = open_source(args.data_dir, args.repair)
    corpus = load_split(src, args.lang, args.split, args.split_scheme, args.split_seed)
    train = load_split(src, args.train_langs, "train", args.split_scheme, args.split_seed) if args.train_langs else None
    vectors = None
    if needs_vectors and (args.vectors or getattr(args, "model", None)):
        from .vectors import resolve_vectors

        vectors, how = resolve_vectors(args.vectors, getattr(args, "model", None))
        say(f"context_swap vectors: {how}")
    ctx = Context(train=train, runtime=runtime, source=src, lang=args.lang, mlm=args.mlm, vectors=vectors)
    return corpus, ctx, src


def _warn(stats: dict) -> None:
    from .evaluate import capped_warnings

    for w in capped_warnings(stats):
        say(f"xner: warning: {w}", important=True)


def _needs_vectors(perts) -> bool:
    return any("vectors" in part.requirements() for p in perts for part in getattr(p, "parts", [p]))


def _rate(s: str):
    """``--rate``: see ``perturbations.parse_rate`` (imported when a command runs, not at start-up)."""
    from .perturbations import parse_rate

    return parse_rate(s)


@command
def _perturb(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perturb", help="write a perturbed copy of a test set (same sentences, same order)",
                       description="Apply a perturbation (or a combination a+b) to a split and write the adversarial "
                       "set (tsv or jsonl by extension) with its edit statistics in FILE.stats.json.")
    _add_common(p)
    p.add_argument("--perturbation", required=True, help="a name from `xner perturb --list`, or a+b")
    p.add_argument("--rate", type=_rate, default="default", help="share of units to edit (default: per perturbation)")
    add_seed(p, 0, "perturbation seed")
    p.add_argument("--model", help="ONNX folder from xner export (context_swap word vectors, mask token)")
    add_runtime(p)
    add_out(p, help="perturbed file to write (tsv or jsonl by extension; statistics in OUT.stats.json)")
    add_overwrite(p)
    add_console(p)
    p.set_defaults(func=run_perturb, **logs_to(_beside))


def run_perturb(args: argparse.Namespace) -> int:
    from xner.formats import write_corpus
    from xner.io import write_json
    from xner.provenance import provenance

    from .perturbations import make, rate_params

    runtime = None
    if args.model:
        from xner.export.runtime import Runtime

        runtime = Runtime(args.model, provider=args.provider, threads=args.threads)
    kw = rate_params(args.rate)
    if args.pool:
        kw["pool"] = args.pool
    if args.vectors == "model":
        kw["vectors"] = "model"
    pert = make(args.perturbation, **kw)
    corpus, ctx, src = _context(args, runtime, _needs_vectors([pert]))
    inputs = _inputs(args, src)
    for f in (args.out, str(args.out) + ".stats.json"):  # before any work: a refusal touches nothing
        claim_file(f, inputs=inputs, overwrite=args.overwrite)
    r = pert.apply(corpus, args.seed, ctx)
    write_corpus(r.corpus, args.out)
    record_file(args.out, "xner perturb")
    stats = {"source": {"data": src.name, "lang": args.lang, "split": args.split, "train_lang": args.train_langs,
                        "split_scheme": args.split_scheme, "split_seed": args.split_seed},
             "perturbation": pert.name, "params": pert.params, "seed": args.seed, "stats": r.stats,
             "provenance": provenance()}
    write_json(str(args.out) + ".stats.json", stats)
    record_file(str(args.out) + ".stats.json", "xner perturb")
    st = r.stats
    _warn(st)
    lines = [f"{pert!r}: edited {st['tokens_edited']}/{st['tokens']} tokens, {st['entities_edited']}/{st['entities']} "
             f"entities, {st['sentences_edited']}/{st['sentences']} sentences -> {args.out}"]
    for part in st.get("parts") or [st]:
        if "pool" in part:
            lines.append(f"  {part['perturbation']} pool: {part['pool']} ({part['pool_items']} items; "
                         f"{part['pool_origin']})")
    emit(args, {**stats, "out": str(args.out)}, "\n".join(lines))
    return 0


@command
def _evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="clean vs perturbed P/R/F1 of an exported model",
                       description="Score an ONNX model on a clean test set and on perturbed copies: F1 change, "
                       "relative drop, change per edited percentage point, paired bootstrap intervals, edit "
                       "statistics. Rows go to --out as JSONL; a table is printed.")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    _add_common(p)
    p.add_argument("--perturbations", default="all",
                   help="all, or comma-separated names (a+b for combinations; NAME:RATE for a rate of its own)")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="a cited perturbation set instead of --perturbations: "
                   + "; ".join(f"{k}: {', '.join(s for s, _ in r.entries)}" for k, r in sorted(RECIPES.items())))
    p.add_argument("--rates", default=None, help="comma-separated rates (or 'none'); default: each perturbation's")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--no-incremental", dest="incremental", action="store_false",
                   help="re-infer every sentence of every cell (default: only sentences a perturbation changed; "
                   "the others keep their clean predictions)")
    p.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                   help="perturb, infer and score each cell in turn in one thread (default: the next cell is "
                   "perturbed while a worker thread infers this one; the same rows either way)")
    p.add_argument("--allow-batch-dependent", action="store_true",
                   help="incremental evaluation of a dynamically quantised variant anyway (not exact: its tags depend "
                   "on batch-mates; refused by default)")
    add_gates(p)
    p.add_argument("--variant", help="which graph of the export folder: fp32 (model.onnx), O2, int8, int8-dynamic, "
                   "int8_O2, fp16, ... or a file name (default: the one the export made last, as its report says)")
    add_runtime(p)
    p.add_argument("--parallel", choices=("batches", "ops"), default="batches",
                   help="on a CPU, run one batch per thread (batches, the default: --threads batches at once) or "
                   "split each batch's operators across the threads (ops); the same rows either way")
    add_out(p, required=False, help="JSONL file for the rows")
    add_overwrite(p)
    add_console(p)
    p.set_defaults(func=run_evaluate, **logs_to(_beside))


def add_gates(p: argparse.ArgumentParser) -> None:
    """Robustness gates for CI (``robustness/gates.py``): thresholds, pass/fail per test, exit 4, JUnit XML."""
    p.add_argument("--require", action="append", default=[], metavar="NAME:METRIC>=X",
                   help="a threshold every evaluated row of perturbation NAME (or * for all) must meet; METRIC: "
                   "delta_f1, delta_f1_lo (the lower end of the 95 percent interval), relative_drop or f1, as "
                   "fractions (>= or <=); quote it in a shell, as --require 'char_noise:delta_f1>=-0.05'. "
                   "Repeatable. A case fails when its row was skipped, its perturbation edited (almost) nothing, "
                   "or a drop is measured on a model whose clean F1 is below 0.2 (lower it with floor in "
                   "--require-file). Any failing gate exits 4")
    p.add_argument("--require-file", metavar="TOML", default=None,
                   help="gates as [[require]] tables (perturbation, metric, op, value, min_pass_rate, "
                   "allow_unedited, floor)")
    p.add_argument("--junit", metavar="FILE", default=None, help="write the gates' results as JUnit XML")


def apply_gates(args: argparse.Namespace, rows: list[dict], inputs: list) -> int:
    """Check the rows against the command's gates: print pass/fail per gate, write JUnit XML when asked;
    returns the exit code (0, or 4 when a gate failed)."""
    from xner.io import atomic_write

    from .gates import check, junit_xml, render

    outcomes = check(rows, args._gates)
    if not outcomes:
        return 0
    say(render(outcomes), important=True)
    if args.junit:
        atomic_write(args.junit, [junit_xml(outcomes)])
        record_file(args.junit, "xner gates")
    return 4 if any(not o.passed for o in outcomes) else 0


def parse_gates(args: argparse.Namespace, inputs: list, run_names: list[str] | None = None) -> None:
    """Read the gates before any work (a bad threshold, or a gate naming a perturbation the run does not
    evaluate, fails fast) and claim the JUnit file (never one of the command's inputs, the gates' own
    file included, whatever --overwrite says)."""
    from .gates import load_gates, parse_gate, validate_names

    args._gates = [parse_gate(g) for g in args.require] + (load_gates(args.require_file) if args.require_file else [])
    if run_names is not None:
        validate_names(args._gates, run_names)
    if args.junit:
        if not args._gates:
            raise XnerError("--junit needs gates (--require or --require-file)")
        claim_file(args.junit, inputs=[*inputs, args.out, args.require_file], overwrite=args.overwrite,
                   flag="--junit")


def _inputs(args: argparse.Namespace, src) -> list:
    """What a perturb/evaluate run reads: its data folder, the model, the vectors and masked LM."""
    return [getattr(src, "root", None), getattr(args, "model", None), args.vectors if args.vectors and
            args.vectors != "model" else None, args.mlm, *(_existing(args.pool[5:]) if args.pool and
                                                          args.pool.startswith("file:") else [])]


def _existing(path: str) -> list:
    from pathlib import Path

    return [path] if Path(path).exists() else []


def _beside(args: argparse.Namespace) -> str | None:
    """The log of a command that writes a file: ``OUT.log`` beside it (as ``OUT.stats.json``)."""
    return f"{args.out}.log" if args.out else None


def _process_age() -> float:
    """Seconds since this process started (the interpreter and every import included; 0 off Linux)."""
    import os

    try:
        start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, float(open("/proc/uptime").read().split()[0]) - start)
    except (OSError, ValueError, IndexError):
        return 0.0


def run_evaluate(args: argparse.Namespace) -> int:
    import time

    t_enter, started = time.perf_counter(), _process_age()
    from xner.export.runtime import Runtime

    from .evaluate import all_perturbations, evaluate, perturbation, render, run_meta, write_rows
    from .perturbations import parse_rates
    from .recipes import recipe_specs

    runtime = Runtime(args.model, provider=args.provider, threads=args.threads, file_name=args.variant,
                      parallel=args.parallel)
    if args.recipe:
        perts = recipe_specs(args.recipe)
    else:
        perts = all_perturbations() if args.perturbations == "all" else [x for x in args.perturbations.split(",") if x]
        from .perturbations import ALIASES, parse_rate

        # NAME:RATE gives a perturbation its own rate (--rates then applies to none of them)
        perts = [(x.split(":")[0], {"rate": parse_rate(x.split(":", 1)[1])}) if ":" in x else x for x in perts]
        if args.rates and any(isinstance(x, tuple) for x in perts):
            raise XnerError("give rates either per perturbation (--perturbations NAME:RATE,...) or with --rates")
        named = [ALIASES.get(x if isinstance(x, str) else x[0], x if isinstance(x, str) else x[0]) for x in perts]
        twice = sorted({x for x in named if named.count(x) > 1})
        if twice:
            raise XnerError(f"--perturbations lists {', '.join(twice)} twice: each would repeat the same rows")
    if args.vectors == "model":  # context_swap's vectors from the evaluated model (parts without the
        # parameter ignore it)
        perts = [(p, {"vectors": "model"}) if isinstance(p, str) else (p[0], {**p[1], "vectors": "model"})
                 for p in perts]
    made = [perturbation(p[0], params=p[1]) if isinstance(p, tuple) else perturbation(p) for p in perts]
    corpus, ctx, src = _context(args, runtime, _needs_vectors(made))
    if args.out:
        claim_file(args.out, inputs=_inputs(args, src), overwrite=args.overwrite)
    parse_gates(args, _inputs(args, src), [p.name for p in made])
    rates = parse_rates(args.rates) if args.rates else None
    if rates and len({repr(r) for r in rates}) != len(rates):
        raise XnerError(f"--rates lists a rate twice ({args.rates}): each would repeat the same rows")
    try:
        seeds = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        raise XnerError(f"--seeds takes comma-separated integers, got {args.seeds!r}") from None
    if len(set(seeds)) != len(seeds):
        raise XnerError(f"--seeds lists a seed twice ({args.seeds}): each seed is one replicate")
    if args.bootstrap < 0:
        raise XnerError(f"--bootstrap is a number of resamples (0 for no intervals), got {args.bootstrap}")
    meta = {"model": args.model, "data": src.name, "lang": args.lang, "split": args.split,
            "split_scheme": args.split_scheme, "split_seed": args.split_seed, "train_lang": args.train_langs,
            "provider": runtime.provider, "variant": runtime.variant, "token_budget": runtime.token_budget,
            "parallel": runtime.parallel, "workers": runtime.workers, "fusions_left_out": runtime.fusions_left_out,
            "recipe": args.recipe}
    rows = []
    total = 1 + len(perts) * len(rates or [1]) * len(seeds)
    t_loaded = time.perf_counter()
    with progress(total, "evaluate", unit="cell") as bar:
        for row in evaluate(runtime, corpus, perts, rates, seeds, ctx, args.bootstrap, meta,
                            incremental=args.incremental, allow_batch_dependent=args.allow_batch_dependent,
                            pipeline=args.pipeline):
            rows.append(row)
            bar.stage(str(row.get("perturbation") or "clean"))
            bar.advance(1 if "skipped" not in row else len(seeds))
            if "edit" in row:
                _warn({**row["edit"], "perturbation": row["perturbation"], "parts": row.get("parts")})
    t_cells = time.perf_counter()
    if args.out:
        header = {"kind": "evaluate-run", **run_meta(**meta)}
        write_rows([header] + rows, args.out)
        record_file(args.out, "xner evaluate")
    t_end = time.perf_counter()
    # the whole time line, every second of it: start-up (interpreter, imports), loading (model, data,
    # perturbation context), the cells' stages, the cells' remainder (setup, bookkeeping), writing
    stages = {k: sum(r.get("seconds", {}).get(k, 0.0) for r in rows)
              for k in ("perturb", "encode", "vectors", "infer", "score")}
    secs = {"start-up": started, "load": t_loaded - t_enter, **stages}
    # the cells' wall beyond their stages (setup, bookkeeping), or below it: stage seconds that ran at
    # once (the next cell is perturbed while the worker infers this one)
    gap = (t_cells - t_loaded) - sum(stages.values())
    secs["cells, other"] = max(0.0, gap)
    secs["overlapped"] = min(0.0, gap)
    secs["write"] = t_end - t_cells
    tot = sum(secs.values()) or 1.0
    emit(args, {"meta": run_meta(**meta), "rows": rows, "seconds": {k: round(v, 3) for k, v in secs.items()}},
         render(rows) + "\ntime: " + ", ".join(f"{k} {v:.2f} s ({100 * v / tot:.1f}%)" for k, v in secs.items())
         + f"; wall {tot:.2f} s  (vectors = model inference for context_swap's word vectors; overlapped = "
         "stage seconds that ran at the same time as others: the next cell is perturbed while one is inferred)")
    return apply_gates(args, rows, _inputs(args, src))
