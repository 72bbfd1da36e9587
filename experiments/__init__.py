"""Experiments: the one place that composes training, export and robustness.

A sweep config (:mod:`.config`) is planned into groups of cells (:mod:`.plan`); each group's model is
built once (:mod:`.artefacts`), its cells are evaluated (:mod:`.cells`) by an executor
(:mod:`.executors`) and written to the results store (:mod:`.store`) by :func:`run_sweep`
(:mod:`.run`); :mod:`.report` turns a store into tables and plots, and :mod:`.demo` does it all.
"""

from __future__ import annotations

from .artefacts import Artifacts, build_once, read_done
from .config import builtin_configs, load_config, resolve_models
from .demo import run_demo
from .plan import Group, plan, resolve_sources
from .report import build as build_report
from .report import reference
from .run import comparable, run_sweep
from .store import Store, cell_key

__all__ = ["Artifacts", "Group", "Store", "build_once", "build_report", "builtin_configs", "cell_key", "comparable",
           "load_config", "plan", "read_done", "reference", "resolve_models", "resolve_sources", "run_demo",
           "run_sweep"]
