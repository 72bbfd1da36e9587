"""Sweeps: models x settings x sources x targets x perturbations x rates x seeds.

A config (TOML, or the same dict from Python) names models, settings, targets and the robustness
grid.  The runner trains, distils and exports what each cell needs, reusing artefacts keyed by
their inputs (built once, even by concurrent sweeps: :func:`artefacts.build_once`; an interrupted
training resumes), then evaluates cells and writes each one to the SQLite store in its own
transaction.  A rerun skips finished cells.  ``executor="ray"`` evaluates the cells as Ray tasks;
artefacts are built by the driver first, so both executors score the very same ONNX files and give
identical rows.
"""

from __future__ import annotations

from pathlib import Path

from xner.errors import XnerError

from .artefacts import Artifacts
from .config import load_config, resolve_models
from .executors import EXECUTORS, CellJob
from .plan import plan
from .store import Store, cell_key

__all__ = ["TIMING_FIELDS", "comparable", "run_sweep"]

TIMING_FIELDS = ("seconds", "new_words_tokenized")


def run_sweep(config: str | dict, store_path: str | Path, executor: str = "local", data_dir: str | None = None,
              repair: str = "conlleval", progress: bool = True, ray_address: str | None = None) -> dict:
    """Run (or resume) a sweep into the store at ``store_path``; artefacts go beside it, in
    ``STORE-artifacts``.  Returns the numbers of cells, of cells already done and of rows written."""
    from tqdm import tqdm

    from xner.datadir import open_source
    from xner.provenance import provenance

    cfg = load_config(config)
    if executor not in EXECUTORS:
        raise XnerError("--executor must be local or ray")
    src = open_source(data_dir or cfg.get("data_dir"), repair)
    data_name = src.name
    store_path = Path(store_path)
    models = resolve_models(cfg)
    groups = plan(cfg)
    with Store(store_path) as store:
        store.log_run(cfg, provenance(executor=executor, data=data_name))
        done = store.done_keys()
        todo = [(g, [c for c in cells if cell_key(c) not in done]) for g, cells in groups]
        todo = [(g, cells) for g, cells in todo if cells]
        n_total = sum(len(c) for _, c in groups)
        n_todo = sum(len(c) for _, c in todo)
        arts = Artifacts(store_path.parent / f"{store_path.stem}-artifacts", cfg, models, src, data_name)
        job = CellJob(data_name, repair, int(cfg.get("test_max_sentences", 0) or 0), int(cfg["bootstrap"]))
        written = 0
        bar = tqdm(total=n_total, initial=n_total - n_todo, desc="sweep", unit="cell", disable=not progress)

        def write(params: dict, row: dict, info: dict) -> None:
            nonlocal written
            written += store.put(params, {**row, "export": info})
            bar.update(1)

        EXECUTORS[executor](todo, arts, job, write, bar.set_postfix_str, ray_address=ray_address)
        bar.close()
        return {"cells": n_total, "skipped": n_total - n_todo, "written": written, "store": str(store_path)}


def comparable(row: dict) -> dict:
    """A row without its timing fields (which differ between runs)."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}
