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

from xner.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Artifacts": ".artefacts",
    "COLUMNS": ".results",
    "Group": ".plan",
    "Material": ".material",
    "Resampler": ".uncertainty",
    "Step": ".artefacts",
    "Store": ".store",
    "build_once": ".artefacts",
    "build_record": ".artefacts",
    "build_report": ".report:build",
    "builtin_configs": ".config",
    "cell_key": ".store",
    "cell_params": ".identity",
    "comparable": ".run",
    "flat_rows": ".results",
    "group_identity": ".identity",
    "load_config": ".config",
    "pack_counts": ".uncertainty",
    "parse_seeds": ".config",
    "plan": ".plan",
    "read_done": ".artefacts",
    "reference": ".results",
    "reference_f1": ".results",
    "resolve_models": ".config",
    "resolve_sources": ".plan",
    "run_demo": ".demo",
    "run_sweep": ".run",
    "select_rows": ".report",
    "unpack_counts": ".uncertainty",
    "variant": ".identity",
    "write_table": ".results",
})
