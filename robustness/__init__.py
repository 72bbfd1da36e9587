"""Robustness: perturbations of tagged test sets, clean-vs-perturbed evaluation, cited recipes, the fixed
word-vector encoder of the study's context swap, robust training copies and the statistics over results."""

from __future__ import annotations

from xner.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Combination": ".perturbations",
    "Context": ".perturbations",
    "EncoderVectors": ".vectors",
    "Perturbation": ".perturbations",
    "Perturbed": ".perturbations",
    "RECIPES": ".recipes",
    "Recipe": ".recipes",
    "all_perturbations": ".evaluate",
    "apply_batched": ".perturbations",
    "augment_corpus": ".augment",
    "augmenter": ".augment",
    "base_model_of": ".vectors",
    "capped_warnings": ".evaluate",
    "clean_cell": ".evaluate",
    "correlation": ".statistics",
    "encoder_vectors": ".vectors",
    "evaluate": ".evaluate",
    "make": ".perturbations",
    "names": ".perturbations",
    "parse_augment": ".augment",
    "pearson": ".statistics",
    "percentile_interval": ".statistics",
    "recipe": ".recipes",
    "recipe_specs": ".recipes",
    "register": ".perturbations",
    "resolve_vectors": ".vectors",
    "run_cell": ".evaluate",
    "spearman": ".statistics",
})
