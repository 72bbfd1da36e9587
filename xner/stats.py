"""Corpus statistics: sentences, tokens, entities per type."""

from __future__ import annotations

import numpy as np

from .corpus import Corpus


def corpus_stats(c: Corpus) -> dict:
    ch = c.chunks()
    per_type = np.bincount(ch[:, 3], minlength=len(c.labels.types)) if ch.size else np.zeros(len(c.labels.types), int)
    lengths = c.lengths
    return {
        "sentences": len(c),
        "tokens": c.n_tokens,
        "entities": int(ch.shape[0]),
        "entities_per_type": {t: int(per_type[k]) for k, t in enumerate(c.labels.types)},
        "entity_tokens": int((c.tags != 0).sum()),
        "distinct_words": int(np.unique(c.words).size),
        "mean_length": float(lengths.mean()) if lengths.size else 0.0,
        "max_length": int(lengths.max()) if lengths.size else 0,
        "repaired_tags": int(c.meta.get("repaired_tags", 0)),
    }


def render(lang: str, stats: dict[str, dict]) -> str:
    types = sorted({t for s in stats.values() for t in s["entities_per_type"]})
    head = f"{'split':<6} {'sentences':>9} {'tokens':>9} {'entities':>8} " + " ".join(f"{t:>6}" for t in types) + \
        f" {'mean len':>8} {'max':>5}"
    lines = [f"language {lang}", head]
    for split, s in stats.items():
        lines.append(f"{split:<6} {s['sentences']:>9} {s['tokens']:>9} {s['entities']:>8} "
                     + " ".join(f"{s['entities_per_type'].get(t, 0):>6}" for t in types)
                     + f" {s['mean_length']:>8.2f} {s['max_length']:>5}")
    return "\n".join(lines)
