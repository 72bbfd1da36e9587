"""Subcommands ``sweep``, ``report`` and ``demo``."""

from __future__ import annotations

import argparse

from xner.cli import add_data_dir, command, set_torch_threads


@command
def _sweep(sub: argparse._SubParsersAction) -> None:
    from .config import builtin_configs

    p = sub.add_parser("sweep", help="run a robustness sweep (resumable, local or Ray)",
                       description="Train, distil, export and evaluate every cell of a sweep config (a TOML file or "
                       f"a built-in: {', '.join(builtin_configs())}). Results go to a SQLite store, one row per cell; "
                       "a rerun skips finished cells.")
    p.add_argument("config", help="TOML file or built-in config name")
    p.add_argument("--store", default=None, help="SQLite results file (default runs/<config>/results.sqlite)")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    add_data_dir(p)
    p.set_defaults(func=run_sweep_cmd)


def run_sweep_cmd(args: argparse.Namespace) -> int:
    from .config import load_config
    from .run import run_sweep

    cfg = load_config(args.config)
    store = args.store or f"runs/{cfg['name']}/results.sqlite"
    set_torch_threads()
    r = run_sweep(cfg, store, args.executor, args.data_dir, args.repair, ray_address=args.ray_address)
    print(f"sweep {cfg['name']}: {r['cells']} cells, {r['skipped']} already done, {r['written']} written -> {r['store']}")
    return 0


@command
def _report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tables, reference numbers and plots from a results store",
                       description="Write report.md, CSV tables (study-shaped, with the reference study's numbers "
                       "beside matching cells), PNG plots and overlap-F1 correlations from a sweep's store.")
    p.add_argument("store", help="SQLite results file from xner sweep")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from .report import build

    r = build(args.store, args.out)
    print(f"report: {r['report']} ({r['cells']} cells); plots: {', '.join(r['plots'])}")
    return 0


@command
def _demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: a small source-diversity sweep end to end, then its report",
                       description="Run the built-in 'demo' sweep (three offline pairs id->ms, nl->af, ar->fa; small "
                       "models built by init-model; native, zero-shot, single- and two-source students; ONNX int8; "
                       "perturbed, evaluated) and write its report. Data from --data-dir or XNER_DATA_DIR.")
    add_data_dir(p)
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.set_defaults(func=run_demo_cmd)


def run_demo_cmd(args: argparse.Namespace) -> int:
    import time

    from .demo import demo_data_dir, run_demo

    d = demo_data_dir(args.data_dir)
    t0 = time.time()
    set_torch_threads()
    r = run_demo(d, args.out, args.executor, args.repair)
    sweep, rep = r["sweep"], r["report"]
    print(rep["main_table"])
    print(f"\ndemo finished in {time.time() - t0:.0f} s: {sweep['cells']} cells ({sweep['skipped']} reused).")
    print(f"report: {rep['report']}\nplots:  {', '.join(rep['plots'])}")
    return 0
