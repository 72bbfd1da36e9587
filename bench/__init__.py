"""Benchmarks: each suite measures xner and its baseline in the same run."""

from .suites import SUITES, run_suites

__all__ = ["SUITES", "run_suites"]
