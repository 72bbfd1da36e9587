"""``xner bench``: latency and throughput suites, each against its baseline in the same run."""

from __future__ import annotations

import argparse

from xner.cli import command

from .suites import SUITES


@command
def _bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against real baselines, side by side in one run",
                       description="Run benchmark suites; each measures xner and its baseline in the same "
                       "run, after warm-up, and writes bench.json and bench.md with machine, threads and versions.")
    p.add_argument("--suite", default="all", choices=[*SUITES, "all"])
    p.add_argument("--quick", action="store_true", help="small inputs, few repeats")
    p.add_argument("--data-dir", help="WikiANN folder for real data (default: $XNER_DATA_DIR or ../shared/data)")
    p.add_argument("--out", default="bench-results", help="output folder (default bench-results)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="inference suite: cuda times PyTorch on the GPU and ONNX Runtime's CUDA provider (fp16)")
    p.add_argument("--models", help="inference suite: model sizes, comma separated (tiny, bert-base)")
    p.add_argument("--shapes", help="inference suite: BATCHxLENGTH list, e.g. 32x128")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    from .harness import markdown, write_results
    from .suites import run_suites

    results = run_suites(args.suite, args.quick, args.data_dir, args.device, args.models, args.shapes)
    js, md = write_results(results, args.out)
    print(markdown(results))
    print(f"results: {js} {md}")
    return 0
