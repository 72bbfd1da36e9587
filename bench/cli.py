"""``xner bench``: latency and throughput suites, each against its baseline in the same run."""

from __future__ import annotations

import argparse

from xner.cli import command, emit, logs_to
from xner.options import add_console, add_data, add_out

from .suites import SUITES


@command
def _bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against real baselines, side by side in one run",
                       description="Run benchmark suites; each measures xner and its baseline in the same "
                       "run, after warm-up, and writes bench.json and bench.md with machine, threads and versions.")
    p.add_argument("--suite", default="all", choices=[*SUITES, "all"])
    p.add_argument("--quick", action="store_true", help="small inputs, few repeats")
    add_data(p, help="WikiANN folder for real data (default: $XNER_DATA_DIR or ../shared/data)")
    add_out(p, required=False, default="bench-results", help="output folder (default bench-results)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="inference suite: cuda times PyTorch on the GPU and ONNX Runtime's CUDA provider (fp16)")
    p.add_argument("--models", help="inference suite: model sizes, comma separated (tiny, bert-base)")
    p.add_argument("--shapes", help="inference suite: BATCHxLENGTH list, e.g. 32x128")
    p.add_argument("--peer-python", default=None, metavar="PATH",
                   help="peer suite: the python of an environment with langtest (docs/performance.md says how to "
                   "build one); without it the suite is skipped with a note")
    p.add_argument("--no-require", dest="require", action="store_false",
                   help="exit 0 even when a required ratio is not met (default: exit 4)")
    add_console(p)
    p.set_defaults(func=run_bench, **logs_to(lambda a: a.out))


def run_bench(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from xner.outputs import claim_dir

    from .harness import markdown, write_results
    from .suites import run_suites

    claim_dir(args.out)  # before hours of measuring: a refused --out costs nothing
    results = run_suites(args.suite, args.quick, args.data_dir, args.device, args.models, args.shapes,
                         peer_python=args.peer_python)
    js, md = write_results(results, args.out)
    unmet = [x for r in results for x in r.ratios if x.get("ok") is False]
    failed = [r.suite for r in results if any(n.startswith("failed:") for n in r.notes)]
    emit(args, {"results": [asdict(r) for r in results], "files": [str(js), str(md)],
                "unmet": unmet}, f"{markdown(results)}\nresults: {js} {md}")
    if unmet and args.require:
        from xner.console import say

        say("xner: required ratio not met: " + "; ".join(
            f"{x['name']} {x['speedup']:.2f}x < {x['required']}x" for x in unmet)
            + (f"; suite(s) failed: {', '.join(failed)}" if failed else ""), important=True)
        return 4
    if failed:
        from xner.console import say

        say(f"xner: suite(s) failed: {', '.join(failed)} (the others' results are written)", important=True)
        return 1
    return 0
