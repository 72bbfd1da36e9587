"""Robustness: perturbations of tagged test sets, clean-vs-perturbed evaluation, robust training
copies and the statistics over results."""

from .augment import augment_corpus, augmenter, parse_augment
from .evaluate import all_perturbations, clean_cell, evaluate, run_cell
from .perturbations import Combination, Context, Perturbation, Perturbed, apply_batched, make, names, register
from .statistics import correlation, pearson, percentile_interval, spearman

__all__ = ["Combination", "Context", "Perturbation", "Perturbed", "all_perturbations", "apply_batched",
           "augment_corpus", "augmenter", "clean_cell", "correlation", "evaluate", "make", "names",
           "parse_augment", "pearson", "percentile_interval", "register", "run_cell", "spearman"]
