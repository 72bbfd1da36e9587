"""Subcommands ``sweep``, ``report``, ``results`` and ``demo``."""

from __future__ import annotations

import argparse
import sys

from xner.cli import command, emit, logs_to, set_torch_threads
from xner.options import add_console, add_data, add_out


def _train_seeds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train-seeds", default=None, metavar="0,1,2",
                   help="training seeds: every model is trained once per seed (overrides the config's train_seeds)")


@command
def _sweep(sub: argparse._SubParsersAction) -> None:
    from .config import builtin_configs

    p = sub.add_parser("sweep", help="run a robustness sweep (resumable, local or Ray)",
                       description="Train, distil, export and evaluate every cell of a sweep config (a TOML file or "
                       f"a built-in: {', '.join(builtin_configs())}). Results go to a SQLite store, one row per cell, "
                       "keyed by everything that determines its numbers; a rerun skips finished cells, a changed "
                       "input makes new cells.")
    p.add_argument("config", help="TOML file or built-in config name")
    p.add_argument("--store", default=None, help="SQLite results file (default runs/<config>/results.sqlite)")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    p.add_argument("--artifacts", default=None, metavar="DIR",
                   help="where trained, distilled and exported models go (default: the config's artifacts, else "
                   "STORE-artifacts beside the store); on a Ray cluster a folder every node sees at the same path")
    p.add_argument("--no-incremental", dest="incremental", action="store_false", default=None,
                   help="re-infer every sentence of every cell (default: the config's incremental, true: only "
                   "sentences a perturbation changed)")
    p.add_argument("--plan", action="store_true",
                   help="only list the conditions, the models to train, distil and export (and which are built), the "
                   "cells and an estimate of the cost; runs, trains and downloads nothing")
    from xner.robustness.cli import add_gates

    add_gates(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --junit file xner did not write")
    p.add_argument("--power", default=None, metavar="STORE",
                   help="with --plan: project the minimum detectable effect of each declared contrast for 3, 5 and 10 "
                   "training seeds (the config's targets and test size) from a pilot store's variance components")
    _train_seeds(p)
    add_data(p)
    add_console(p)
    p.set_defaults(func=run_sweep_cmd, **logs_to(_store_folder))


def _store_folder(args: argparse.Namespace) -> str:
    from pathlib import Path

    from .config import load_config

    return str(Path(args.store).parent) if args.store else f"runs/{load_config(args.config)['name']}"


def run_sweep_cmd(args: argparse.Namespace) -> int:
    from .config import load_config, parse_seeds
    from .run import run_sweep

    seeds = parse_seeds(args.train_seeds) if args.train_seeds else None
    cfg = load_config(args.config, seeds)
    if args.incremental is not None:
        cfg["incremental"] = args.incremental
    store = args.store or f"runs/{cfg['name']}/results.sqlite"
    if args.power and not args.plan:
        from xner.errors import XnerError

        raise XnerError("--power STORE goes with --plan (it projects; it runs nothing)")
    if args.plan and args.power:
        from .power import power_table, render_power

        pw = power_table(cfg, args.power)
        emit(args, pw, render_power(pw))
        return 0
    if args.plan:
        from .planview import render_plan, sweep_plan

        pl = sweep_plan(cfg, args.data_dir, args.repair, artifacts=args.artifacts, store=store)
        emit(args, pl, render_plan(pl) if not getattr(args, "json", False) else
             f"plan of {pl['config']}: {pl['cells']} cells, estimate {pl['estimate_seconds']:.0f} s"
             + (" (for the offline fallback models: the hub is not reachable)" if pl.get("fallback") else ""))
        return 0
    from xner.robustness.cli import apply_gates, parse_gates

    args.out = None
    from pathlib import Path

    from .plan import perturbation_entry
    from .run import artifacts_root

    names = [perturbation_entry(it)[0] for it in cfg["perturbations"]]
    config_file = args.config if Path(args.config).is_file() else None  # a built-in's TOML is no user file
    artifacts = artifacts_root(store, args.artifacts, cfg)
    parse_gates(args, [args.data_dir, store, config_file, artifacts], names)
    set_torch_threads()
    r = run_sweep(cfg, store, args.executor, args.data_dir, args.repair, ray_address=args.ray_address,
                  artifacts=args.artifacts)
    emit(args, {"config": cfg["name"], **r}, f"sweep {cfg['name']} (run {r['run']}): {r['cells']} cells, "
         f"{r['skipped']} already done, {r['written']} written -> {r['store']}")
    if not args._gates:
        return 0
    from .store import Store

    with Store(store) as st:  # every cell of this run is a test case of the gates it matches
        rows = [{**row, **{k: row["params"][k] for k in ("perturbation", "rate", "seed")},
                 "case": f"{row['params']['model']} {row['params'].get('label') or row['params']['setting']} "
                         f"{'+'.join(row['params']['sources'])}->{row['params']['target']} "
                         f"train seed {row['params'].get('train_seed', 0)}"} for row in st.rows(r["run"])]
    return apply_gates(args, rows, [args.data_dir, store, config_file, artifacts])


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", default="latest", help="which cells: those of the latest run (default), 'all', or a run id")
    p.add_argument("--bootstrap", type=int, default=None,
                   help="bootstrap replicates of the test sentences (default: the sweep's, at least 2000; the same "
                   "engine for the report, its CSV files and xner results)")
    p.add_argument("--interval", default="t", choices=["t", "percentile"],
                   help="t (default): t intervals over training seeds carrying the sentence variance, random effects "
                   "(Hartung-Knapp) over targets; percentile: the hierarchical percentile bootstrap (too narrow with "
                   "3 seeds and 4 targets; for comparison)")
    p.add_argument("--floor-f1", type=float, default=0.2,
                   help="clean F1 below which a row is flagged as at the floor and gets no verdict (default 0.2)")


@command
def _report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tables, intervals, contrasts, reference numbers and plots from a results store",
                       description="Write report.md (the research question first; ΔF1 per perturbation and rate with "
                       "intervals over sentences x training seeds; contrasts; reference numbers where comparable), "
                       "cells.csv (one row per cell), more CSV tables, PNG plots and correlations from a sweep's store.")
    p.add_argument("store", help="SQLite results file from xner sweep")
    add_out(p, help="output folder (new, empty, or an earlier report's)")
    _selection(p)
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder that holds no report")
    add_console(p)
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from .report import build

    r = build(args.store, args.out, args.run, args.bootstrap, args.overwrite, args.interval, args.floor_f1)
    emit(args, {k: v for k, v in r.items() if k != "main_table"},
         f"report: {r['report']} ({r['cells']} cells); cells: {r['cells_csv']}; plots: {', '.join(r['plots'])}")
    return 0


@command
def _results(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="the flat results table (one row per cell) as CSV, JSON or Parquet",
                       description="Print (or write with --out) the table of report's cells.csv: one row per cell, "
                       "for pandas or DuckDB. The table goes to stdout, messages to stderr.")
    p.add_argument("store", help="SQLite results file from xner sweep")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (an array of records); same as --format json")
    fmt.add_argument("--format", default="csv", choices=["csv", "json", "parquet"], help="default csv")
    p.add_argument("--out", default=None, help="write to this file instead of stdout (parquet needs it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file xner did not write")
    p.add_argument("--table", default="cells", choices=["cells", "perturbations", "contrasts"],
                   help="cells (default: one row per cell, as cells.csv), perturbations (one per condition, "
                   "perturbation and rate, as perturbations.csv) or contrasts (the declared contrasts, as contrasts.csv)")
    _selection(p)
    add_console(p, json=False)
    p.set_defaults(func=run_results)


def run_results(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xner.errors import XnerError

    from .report import table_rows
    from .results import write_table

    if not Path(args.store).is_file():
        raise XnerError(f"{args.store}: no such results store")
    if args.out:
        from xner.outputs import claim_file

        claim_file(args.out, inputs=[args.store], overwrite=args.overwrite)  # before the store is opened
    flat = table_rows(args.store, args.run, args.bootstrap, args.table, args.interval, args.floor_f1)
    fmt = "json" if args.json else args.format
    columns = None if args.table == "cells" else list(dict.fromkeys(k for r in flat for k in r))
    write_table(flat, args.out, fmt, args.overwrite, inputs=[args.store], columns=columns)
    if args.out:
        what = "cells" if args.table == "cells" else f"rows ({args.table})"
        print(f"{len(flat)} {what} -> {args.out} ({fmt})", file=sys.stderr)
    return 0


@command
def _demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: a small source-diversity sweep end to end, then its report",
                       description="Run the built-in 'demo' sweep (three offline pairs id->ms, es->ast, nl->af; small "
                       "BERTs with an 8,000-piece tokenizer trained on the sweep's own text; native, zero-shot, "
                       "single- and two-source students, each trained once per training seed (one by default); "
                       "static int8 ONNX; perturbed, evaluated) and write its report. Data from --data-dir or "
                       "XNER_DATA_DIR.")
    add_data(p)
    add_out(p, required=False, default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    _train_seeds(p)
    add_console(p)
    p.set_defaults(func=run_demo_cmd, **logs_to(lambda a: a.out))


def run_demo_cmd(args: argparse.Namespace) -> int:
    import time

    from .config import parse_seeds
    from .demo import demo_data_dir, run_demo

    d = demo_data_dir(args.data_dir)
    seeds = parse_seeds(args.train_seeds) if args.train_seeds else None
    t0 = time.time()
    set_torch_threads()
    r = run_demo(d, args.out, args.executor, args.repair, train_seeds=seeds)
    sweep, rep = r["sweep"], r["report"]
    secs = round(time.time() - t0, 1)
    emit(args, {"seconds": secs, "sweep": sweep, "report": {k: v for k, v in rep.items() if k != "main_table"}},
         f"{rep['main_table']}\n\ndemo finished in {secs:.0f} s: {sweep['cells']} cells ({sweep['skipped']} "
         f"reused).\nreport: {rep['report']}" + (f"\nhtml:   {rep['html']}" if rep.get("html") else "")
         + f"\ncells:  {rep['cells_csv']}\nplots:  {', '.join(rep['plots'])}\nlog:    {args.out}/xner.log")
    return 0
