"""Scoring two files: read gold and predictions as seqeval reads them, check that they line up,
and render the scores (``xner score``)."""

from __future__ import annotations

from .errors import InputError
from .labels import LabelSet

__all__ = ["declared_labels", "load_aligned", "render_scores"]


def declared_labels(types: str | None) -> LabelSet | None:
    """``--types PER,ORG`` -> a LabelSet of those types (None: any type)."""
    return LabelSet([t.strip() for t in types.split(",") if t.strip()]) if types else None


def load_aligned(gold_path: str, pred_path: str, fmt: str = "auto", types: str | None = None,
                 mode: str = "default", scheme: str | None = None):
    """Read gold and prediction files for scoring in ``mode`` / ``scheme`` and check that their
    sentences and tokens line up.

    Tags are read as seqeval reads them (:func:`xner.schemes.scoring_labels`); files with only
    ``B-``/``I-`` tags come back in the IOB2 layout (the fast path), others in the four-slot layout
    that :func:`xner.metrics.score` scores in their scheme.
    """
    import numpy as np

    from .builder import locate
    from .formats import read_corpus
    from .overlap import map_vocab
    from .schemes import scoring_labels, to_iob2

    declared = declared_labels(types)
    labels = scoring_labels(mode, scheme, declared.types if declared is not None else None)
    gold = read_corpus(gold_path, fmt, labels, repair="keep")
    pred = read_corpus(pred_path, fmt, labels, repair="keep")
    if len(gold) != len(pred):
        raise InputError(f"{len(pred)} sentences, but the gold file {gold_path} has {len(gold)}", pred_path)
    lines = pred.meta.get("first_lines")
    unit = pred.meta.get("line_unit", "line")

    def where(s: int, tok: int = 0) -> tuple[str, int | None]:
        return locate(unit, int(lines[s]), tok) if lines is not None else ("", None)

    diff = np.flatnonzero(gold.lengths != pred.lengths)
    if diff.size:
        s = int(diff[0])
        prefix, line = where(s)
        raise InputError(f"{prefix}sentence {s + 1} has {pred.lengths[s]} tokens, but {gold.lengths[s]} in the gold "
                         f"file {gold_path}", pred_path, line)
    table = map_vocab(pred.vocab, gold.vocab)
    bad = np.flatnonzero(table[pred.words] != gold.words)
    if bad.size:
        i = int(bad[0])
        s = int(np.searchsorted(pred.offsets, i, side="right") - 1)
        prefix, line = where(s, i - int(pred.offsets[s]))
        raise InputError(f"{prefix}token {pred.vocab[int(pred.words[i])]!r} does not line up with gold token "
                         f"{gold.vocab[int(gold.words[i])]!r} ({bad.size} tokens differ)", pred_path, line)
    if labels.fits_iob2:
        gold, pred = to_iob2(gold), to_iob2(pred)
    return gold, pred


def render_scores(s) -> str:
    lines = [f"{'type':<8} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8} {'predicted':>9}"]
    for t, v in s.per_type.items():
        ci = s.ci.get(f"f1_{t}")
        lines.append(f"{t:<8} {v.precision:>9.4f} {v.recall:>9.4f} {v.f1:>9.4f} {v.support:>8} {v.predicted:>9}"
                     + (f"  f1 CI [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""))
    lines.append(f"{'micro':<8} {s.precision:>9.4f} {s.recall:>9.4f} {s.f1:>9.4f} {s.support:>8} {s.predicted:>9}"
                 + (f"  f1 CI [{s.ci['f1'][0]:.4f}, {s.ci['f1'][1]:.4f}]" if s.ci else ""))
    lines.append(f"mode={s.mode}{f' scheme={s.scheme}' if s.scheme else ''} sentences={s.n_sentences} "
                 f"tokens={s.n_tokens}")
    return "\n".join(lines)
