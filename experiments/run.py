"""Sweeps: models x settings x sources x targets x training seeds x perturbations x rates x seeds.

A config (TOML, or the same dict from Python) names models, settings, targets and the robustness
grid.  The runner resolves each model (hub, or its offline fallback), fingerprints the material
under the split scheme and caps (:class:`.material.Material`), gives every cell its identity
(:mod:`.identity`), then trains, distils and exports what the cells not yet in the store need,
reusing artefacts keyed by their inputs (built once, even by concurrent sweeps:
:func:`artefacts.build_once`; an interrupted training resumes), evaluates the cells and writes each
one, with its per-sentence counts, to the SQLite store in its own transaction.  A rerun skips
finished cells; a changed input makes new cells.  ``executor="ray"`` runs training, distillation,
export and evaluation as a graph of Ray tasks (:mod:`.graph`) over the same artefact keys, so both
executors score the very same ONNX files and give identical rows.
"""

from __future__ import annotations

import os
from pathlib import Path

from xner.errors import XnerError

from .artefacts import Artifacts
from .cells import CellJob
from .config import load_config, resolve_mlm, resolve_models
from .executors import EXECUTORS
from .identity import cell_params, group_identity
from .material import Material
from .plan import plan
from .store import Store, cell_key

__all__ = ["TIMING_FIELDS", "comparable", "run_sweep"]

#: fields that say how a row was computed, not what it is: they depend on what the process had cached
TIMING_FIELDS = ("seconds", "new_words_tokenized", "sentences_inferred", "run")


def artifacts_root(store_path: str | os.PathLike, artifacts: str | None, cfg: dict) -> Path:
    """Where a sweep's models go: ``--artifacts``, else the config's ``artifacts``, else
    ``STORE-artifacts`` beside the store."""
    store_path = Path(store_path)
    return Path(artifacts or cfg.get("artifacts") or store_path.parent / f"{store_path.stem}-artifacts")


def run_sweep(config: str | dict, store_path: str | Path, executor: str = "local", data_dir: str | None = None,
              repair: str = "conlleval", progress: bool = True, ray_address: str | None = None,
              train_seeds: list[int] | None = None, artifacts: str | Path | None = None) -> dict:
    """Run (or resume) a sweep into the store at ``store_path``; artefacts go to ``artifacts``, else
    the config's ``artifacts``, else beside the store, in ``STORE-artifacts`` (on Ray: a folder every
    node sees at the same path).  ``train_seeds`` overrides the config's.  Returns the numbers of
    cells, of cells already done and of rows written, and the run's id."""
    from xner.console import Progress
    from xner.datadir import open_source
    from xner.provenance import provenance

    cfg = load_config(config, train_seeds)
    if executor not in EXECUTORS:
        raise XnerError("--executor must be local or ray")
    src = open_source(data_dir or cfg.get("data_dir"), repair)
    from xner.outputs import claim_file, claim_tree

    data_root = getattr(src, "root", None)
    # a new store, or one xner made (its SQLite application id): never a user's file or database, and
    # neither it nor the artefacts inside the data folder (a folder there reads as a language)
    claim_file(store_path, inputs=[data_root], flag="--store")
    if data_root is not None and Path(data_root).resolve() in Path(store_path).resolve().parents:
        raise XnerError(f"--store {store_path} lies inside the data folder {data_root}; choose a path outside it")
    store_path = Path(store_path)
    root = artifacts_root(store_path, artifacts, cfg)
    claim_tree(root, inputs=[data_root], flag="--artifacts")
    mat = Material.of(src, cfg)
    models = resolve_models(cfg)
    arts = Artifacts(Path(os.path.abspath(root)), cfg, models, mat)  # absolute: Ray workers run elsewhere
    mlm = resolve_mlm(cfg)  # context_mask's masked LM (None: the mask token)
    groups = [(g, cell_params(cells, group_identity(arts, g, cfg["bootstrap"], bool(cfg["incremental"])),
                              arts.vectors_identity(g.model), mlm))
              for g, cells in plan(cfg)]
    keys = [cell_key(c) for _, cells in groups for c in cells]
    with Store(store_path) as store:
        run = store.log_run(cfg, provenance(executor=executor, data=mat.source_name), keys)
        done = store.done_keys()
        todo = [(g, [c for c in cells if cell_key(c) not in done]) for g, cells in groups]
        todo = [(g, cells) for g, cells in todo if cells]
        n_total = len(keys)
        n_todo = sum(len(c) for _, c in todo)
        job = CellJob(mat.source_name, repair, mat.scheme, mat.split_seed, mat.train_cap, mat.test_cap,
                      int(cfg["bootstrap"]), bool(cfg["incremental"]), mlm, mat.tested)
        written = 0
        # one display: the models still to build and the cells still to evaluate (finished ones count as done)
        n_build = len({s.name for g, _ in todo for s in arts.steps(g) if not arts.is_built(s)})
        bar = Progress(n_total + n_build, f"sweep {cfg.get('name', '')}".strip(), "step",
                       initial=n_total - n_todo) if progress else None

        received: dict[str, int] = {}  # every result the executor hands back, per cell (a retried task twice?)

        def write(params: dict, row: dict, info: dict, counts: bytes) -> None:
            nonlocal written
            k = cell_key(params)
            received[k] = received.get(k, 0) + 1
            written += store.put(params, {**row, "export": info, "config": cfg.get("name", "")}, counts, run)
            if bar is not None:
                bar.advance(1)

        try:
            EXECUTORS[executor](todo, arts, job, write, bar or _Silent(), ray_address=ray_address)
        finally:
            if bar is not None:
                bar.close()
        return {"cells": n_total, "skipped": n_total - n_todo, "written": written, "store": str(store_path),
                "run": run, "results_received": sum(received.values()),
                "results_duplicated": sum(n - 1 for n in received.values())}


class _Silent:
    """The progress interface when no display is wanted."""

    def stage(self, text: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def comparable(row: dict) -> dict:
    """A row without its timing and cache fields and the id of the run that wrote it (which differ
    between runs)."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}
