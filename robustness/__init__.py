"""Robustness: perturbations of tagged test sets, clean-vs-perturbed evaluation, cited recipes, the fixed
word-vector encoder of the study's context swap, robust training copies and the statistics over results."""

from .augment import augment_corpus, augmenter, parse_augment
from .evaluate import all_perturbations, capped_warnings, clean_cell, evaluate, run_cell
from .perturbations import Combination, Context, Perturbation, Perturbed, apply_batched, make, names, register
from .recipes import RECIPES, Recipe, recipe, recipe_specs
from .statistics import correlation, pearson, percentile_interval, spearman
from .vectors import EncoderVectors, base_model_of, encoder_vectors, resolve_vectors

__all__ = ["RECIPES", "Combination", "Context", "EncoderVectors", "Perturbation", "Perturbed", "Recipe",
           "all_perturbations", "apply_batched", "augment_corpus", "augmenter", "base_model_of", "capped_warnings",
           "clean_cell", "correlation", "encoder_vectors", "evaluate", "make", "names", "parse_augment", "pearson",
           "percentile_interval", "recipe", "recipe_specs", "register", "resolve_vectors", "run_cell", "spearman"]
