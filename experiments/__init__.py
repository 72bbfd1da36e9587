"""Experiments: the one place that composes training, export and robustness.

A sweep config (:mod:`.config`) is planned into groups of cells (:mod:`.plan`), one per model,
setting, target and training seed; each cell gets an identity (:mod:`.identity`) from the resolved
model and the material it saw (:mod:`.material`); each group's model is built once
(:mod:`.artefacts`), its cells are evaluated (:mod:`.cells`) by an executor (:mod:`.executors`) and
written with their per-sentence counts to the results store (:mod:`.store`) by :func:`run_sweep`
(:mod:`.run`).  :mod:`.results` flattens a store into one row per cell, :mod:`.analysis` and
:mod:`.uncertainty` aggregate it over seeds and targets with intervals, :mod:`.report` (+
:mod:`.plots`) writes tables and plots, and :mod:`.demo` does it all; :mod:`.planview` (+
:mod:`.estimate`) lists what a sweep would build and compute, with its cost, without running it.
"""

from __future__ import annotations

from .artefacts import Artifacts, Step, build_once, build_record, read_done
from .config import builtin_configs, load_config, parse_seeds, resolve_models
from .demo import run_demo
from .identity import cell_params, group_identity, variant
from .material import Material
from .plan import Group, plan, resolve_sources
from .report import build as build_report
from .report import select_rows
from .results import COLUMNS, flat_rows, reference, reference_f1, write_table
from .run import comparable, run_sweep
from .store import Store, cell_key
from .uncertainty import Resampler, pack_counts, unpack_counts

__all__ = ["COLUMNS", "Artifacts", "Group", "Step", "build_record", "Material", "Resampler", "Store", "build_once", "build_report",
           "builtin_configs", "cell_key", "cell_params", "comparable", "flat_rows", "group_identity",
           "load_config", "pack_counts", "parse_seeds", "plan", "read_done", "reference", "reference_f1",
           "resolve_models", "resolve_sources", "run_demo", "run_sweep", "select_rows", "unpack_counts", "variant",
           "write_table"]
