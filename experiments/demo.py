"""The demo: the built-in ``demo`` sweep end to end (three offline pairs, small models built by
``init-model``, native, zero-shot and student settings, each trained once per training seed, int8
ONNX, perturbed and evaluated), then its report."""

from __future__ import annotations

import os
from pathlib import Path

from xner.errors import XnerError
from xner.hub import hub_reachable

from .report import build
from .run import run_sweep

__all__ = ["demo_data_dir", "run_demo"]


def demo_data_dir(data_dir: str | None) -> str:
    """The demo's data: ``data_dir``, else ``$XNER_DATA_DIR``, else the hub if it can be reached."""
    d = data_dir or os.environ.get("XNER_DATA_DIR")
    if d:
        return d
    if not hub_reachable():
        raise XnerError("the demo needs WikiANN data: give --data-dir (e.g. ../shared/data/wikiann) or set "
                        "XNER_DATA_DIR; the Hugging Face hub (the other source) is not reachable from here")
    return "hub"


def run_demo(data_dir: str | None, out: str | Path, executor: str = "local", repair: str = "conlleval",
             train_seeds: list[int] | None = None) -> dict:
    """Run the demo sweep into ``out/results.sqlite`` and its report into ``out/report``; returns
    ``{"sweep": run_sweep's numbers, "report": build's}``."""
    from xner.outputs import claim_dir, mark_dir

    out = Path(out)
    claim_dir(out, inputs=[data_dir] if data_dir and data_dir != "hub" else [])
    mark_dir(out, "xner demo")
    r = run_sweep("demo", out / "results.sqlite", executor, demo_data_dir(data_dir), repair, train_seeds=train_seeds)
    return {"sweep": r, "report": build(out / "results.sqlite", out / "report", r["run"])}
