"""Typological and genetic distances between languages, from URIEL+ (Khan et al. 2025, the maintained
successor of lang2vec's URIEL), and the measured properties of a source set.

The distances of every language xner has offline data for are computed once with the ``urielplus``
package and shipped as ``xner/resources/uriel_distances.csv`` (regenerate: ``python -m
xner.experiments.typology --write``; ``tests/test_source_sets.py`` checks the file against
``urielplus`` where it is installed), so a report needs neither urielplus nor pandas.  Kinds:
``featural`` (typological: cosine distance of URIEL+'s syntax, phonology and inventory features),
``genetic`` (family tree), ``geographic``, ``syntactic``; a pair URIEL+ has no shared features for is
empty (Asturian and Aragonese have no typological features there).

A source set's **diversity index** is the mean pairwise featural distance among its sources (all of
them high-resource languages with full coverage); its **distance to the target** is the mean
genetic distance from each source to the target (genetic coverage is complete, featural is not).
"""

from __future__ import annotations

import csv
import itertools
from functools import lru_cache
from importlib import resources

__all__ = ["ISO3", "KINDS", "distance", "diversity", "target_distance"]

#: xner's language codes -> the ISO 639-3 codes URIEL+ knows them by (Standard Arabic, Western
#: Persian, Standard Malay)
ISO3 = {"af": "afr", "an": "arg", "ar": "arb", "ast": "ast", "br": "bre", "ca": "cat", "cs": "ces", "cy": "cym",
        "de": "deu", "en": "eng", "es": "spa", "fa": "pes", "fr": "fra", "hi": "hin", "id": "ind", "it": "ita",
        "jv": "jav", "ms": "zsm", "nl": "nld", "oc": "oci", "pt": "por", "scn": "scn", "sco": "sco", "sk": "slk"}
KINDS = ("featural", "genetic", "geographic", "syntactic")
RESOURCE = "uriel_distances.csv"


@lru_cache(maxsize=1)
def _table() -> dict[tuple[str, str, str], float]:
    out = {}
    with resources.files("xner.resources").joinpath(RESOURCE).open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["distance"]:
                out[(row["kind"], row["a"], row["b"])] = float(row["distance"])
    return out


def distance(a: str, b: str, kind: str = "featural") -> float | None:
    """URIEL+ distance between two languages (None where URIEL+ has no shared features)."""
    from xner.langs import base_code

    a, b = base_code(a), base_code(b)
    if a == b:
        return 0.0
    t = _table()
    return t.get((kind, a, b), t.get((kind, b, a)))


def _mean(vals: list[float | None]) -> float | None:
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def diversity(sources: list[str] | tuple[str, ...], kind: str = "featural") -> float | None:
    """Mean pairwise distance among the sources (0 for one source)."""
    if len(sources) < 2:
        return 0.0
    return _mean([distance(a, b, kind) for a, b in itertools.combinations(sources, 2)])


def target_distance(sources: list[str] | tuple[str, ...], target: str, kind: str = "genetic") -> float | None:
    """Mean distance from each source to the target."""
    return _mean([distance(s, target, kind) for s in sources])


def compute_table() -> list[dict]:
    """Every pair's distances from URIEL+ (needs ``pip install urielplus``)."""
    import contextlib
    import io
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    from urielplus import urielplus

    u = urielplus.URIELPlus()
    rows = []
    for a, b in itertools.combinations(sorted(ISO3), 2):
        for kind in KINDS:
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    d = float(u.new_distance(kind, [ISO3[a], ISO3[b]]))
                except Exception:  # no shared features for this pair and kind
                    d = None
            rows.append({"kind": kind, "a": a, "b": b, "distance": "" if d is None else f"{d:.4f}"})
    return rows


def write_table(path) -> int:
    rows = compute_table()
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["kind", "a", "b", "distance"])
        w.writeheader()
        w.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m xner.experiments.typology --write   (regenerates xner/resources/uriel_distances.csv)")
    target = Path(__file__).resolve().parents[1] / "xner" / "resources" / RESOURCE
    print(f"{write_table(target)} rows -> {target}")
