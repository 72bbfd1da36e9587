"""Source sets as data: many random sets of K source languages per target, each its own condition.

A config asks for them with one setting::

    [[settings]]
    kind = "student"
    label = "random K=2"          # each set is a condition: "random K=2 #1" ... "#S"
    sources = "random:2"          # K sources
    sets = 8                      # S sets per target
    pool = "offline-hrl"          # a named pool (POOLS) or a list of languages
    include_pair = true           # every set holds the target's pair language (default)
    set_seed = 7
    budget = "pair"               # fixed labelled budget: floor(N / K) sentences per teacher

At load time (:func:`expand`) the setting becomes S settings with per-target sources; the sets of a
(target, K) are S distinct combinations drawn without replacement from every combination of the pool
(minus the target and, when included, its pair language), in an order shuffled by a generator
seeded by (set_seed, target, K): reproducible from the seed, never a set twice.  Teachers depend
only on (language, labelled share, training seed), so sets share them (``xner sweep --plan`` counts
the models).  The properties of each set the report regresses on (:mod:`.typology`): K, the
diversity index, the distance to the target, the share of sources in the target's script.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np

from xner.errors import XnerError

__all__ = ["POOLS", "draw_sets", "expand", "measured_properties", "set_properties", "teacher_zero_shot"]

#: named pools of source languages: the high-resource languages with offline WikiANN data
POOLS: dict[str, tuple[str, ...]] = {"offline-hrl": ("ar", "de", "en", "es", "fr", "id", "it", "nl", "pt")}
KEYS = ("sets", "pool", "include_pair", "set_seed")


def _pool(spec) -> tuple[str, ...]:
    if isinstance(spec, str):
        if spec not in POOLS:
            raise XnerError(f"unknown source pool {spec!r}; named pools: {', '.join(POOLS)} (or a list of languages)")
        return POOLS[spec]
    if isinstance(spec, list) and spec and all(isinstance(x, str) for x in spec):
        from xner.langs import PANX_LANGS, base_code, language

        unknown = [x for x in dict.fromkeys(spec) if language(x) is None and base_code(x) not in PANX_LANGS]
        if unknown:
            raise XnerError(f"'pool': unknown language code(s) {', '.join(map(repr, unknown))}; the registry's "
                            "languages: `xner langs`")
        return tuple(dict.fromkeys(spec))
    raise XnerError(f"'pool' is a named pool ({', '.join(POOLS)}) or a list of languages; got {spec!r}")


def draw_sets(target: str, k: int, n: int, pool: tuple[str, ...], include_pair: bool = True,
              seed: int = 0) -> list[tuple[str, ...]]:
    """``n`` distinct sets of ``k`` sources for ``target``: the pair language (when included) plus
    k-1 others, or k others, drawn without replacement from every combination, reproducibly."""
    from xner.langs import base_code

    from .plan import pair_source

    pair = pair_source(target) if include_pair else None
    others = sorted(x for x in pool if x not in (base_code(target), pair))
    free = k - 1 if include_pair else k
    if free < 0 or k < 1:
        raise XnerError(f"random:{k}: K must be at least 1")
    combos = list(itertools.combinations(others, free))
    if n > len(combos):
        raise XnerError(f"{n} sets of {k} sources for {target}: the pool ({len(others)} languages besides "
                        f"{target}{' and its pair ' + pair if pair else ''}) has only {len(combos)} distinct sets")
    rng = np.random.default_rng([int(seed), zlib.crc32(target.encode()), int(k)])
    order = rng.permutation(len(combos))[:n]
    return [((pair,) if pair else ()) + combos[i] for i in order]


def expand(cfg: dict) -> None:
    """Replace each ``sources = "random:K"`` setting of ``cfg`` by its S per-target source sets."""
    out = []
    for s in cfg["settings"]:
        src = s.get("sources")
        if not (isinstance(src, str) and src.startswith("random:")):
            if any(k in s for k in KEYS):
                raise XnerError(f"{', '.join(k for k in KEYS if k in s)}: only for sources = \"random:K\"")
            out.append(s)
            continue
        if s.get("kind") != "student":
            raise XnerError("random source sets are for student settings")
        try:
            k = int(src.split(":", 1)[1])
        except ValueError:
            raise XnerError(f"bad sources {src!r}: random:K with a whole number K") from None
        n = s.get("sets", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise XnerError(f"'sets' is a number of source sets (>= 1); got {n!r}")
        include = s.get("include_pair", True)
        if not isinstance(include, bool):
            raise XnerError(f"'include_pair' is true or false; got {include!r}")
        pool, seed = _pool(s.get("pool", "offline-hrl")), s.get("set_seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise XnerError(f"'set_seed' is an integer; got {seed!r}")
        label = s.get("label") or f"random K={k}"
        sets = {t: draw_sets(t, k, n, pool, include, seed) for t in cfg["targets"]}
        base = {key: v for key, v in s.items() if key not in KEYS}
        for i in range(n):
            out.append({**base, "label": f"{label} #{i + 1}",
                        "sources": {t: ",".join(sets[t][i]) for t in cfg["targets"]},
                        "source_set": {"k": k, "index": i + 1, "of": n, "pool": list(pool), "seed": seed,
                                       "include_pair": include}})
    cfg["settings"] = out


def set_properties(sources: tuple[str, ...] | list[str], target: str) -> dict:
    """What the report regresses on, for one student's sources and target: K, the diversity index
    (mean pairwise typological distance among the sources), the mean genetic distance to the target,
    and the share of sources written in the target's script."""
    from xner.langs import language

    from .typology import diversity, target_distance

    script = getattr(language(target), "script", None)
    same = [getattr(language(s), "script", None) == script for s in sources]
    return {"k": len(sources), "diversity": diversity(list(sources)),
            "distance": target_distance(list(sources), target),
            "genetic_diversity": diversity(list(sources), "genetic"),
            "script_share": sum(same) / len(same) if same else None}


def teacher_zero_shot(teacher_dir: str, corpus, test_sha: str) -> float | None:
    """A teacher's F1 on the target's test set (zero-shot transfer), computed once per teacher and test
    set and kept in the teacher's (xner-made) folder, one file per test set; None when the folder is gone."""
    import json
    from pathlib import Path

    d = Path(teacher_dir)
    if not (d / "config.json").exists():
        return None
    f = d / f"zero-shot-{test_sha[:16]}.json"
    try:
        return float(json.loads(f.read_text(encoding="utf-8"))["f1"])
    except (OSError, ValueError, KeyError):
        pass
    from xner.encode import WordEncoder
    from xner.hf import load_model, load_tokenizer
    from xner.io import write_json
    from xner.metrics import score
    from xner.torchinfer import predict_tags

    model = load_model(str(d)).eval()
    enc = WordEncoder(load_tokenizer(str(d)), 128)
    f1 = float(score(corpus, predict_tags(model, enc, corpus)).f1)
    write_json(f, {"f1": f1, "test_sha256": test_sha, "sentences": len(corpus)})
    return f1


def measured_properties(onnx_dir: str, g, corpus, test_sha: str) -> dict:
    """A student's source set as the report needs it: :func:`set_properties`, each teacher's language,
    labelled sentences and zero-shot F1 on the target, and the weights it distilled with (per teacher:
    the mean, and the spread over target sentences of the language-ID probabilities before a
    set-level ``langid`` averages them; to check langid against uniform)."""
    import json
    from pathlib import Path

    out = set_properties(g.sources, g.target)
    try:
        src = json.loads((Path(onnx_dir) / "export_report.json").read_text(encoding="utf-8"))["source_model"]
        card = json.loads((Path(src) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return out
    teachers = []
    for path, lang in zip(card.get("teachers") or [], card.get("teacher_langs") or [], strict=False):
        try:
            tcard = json.loads((Path(path) / "run.json").read_text(encoding="utf-8"))
            n = sum(int(t.get("sentences") or 0) for t in tcard.get("train") or [])
        except (OSError, ValueError):
            n = None
        teachers.append({"lang": lang, "sentences": n, "zero_shot_f1": teacher_zero_shot(path, corpus, test_sha)})
    w = card.get("weights") or {}
    out.update(teachers=teachers, labelled_sentences=sum(t["sentences"] or 0 for t in teachers),
               weighting=w.get("weighting", g.weighting), weights_mean=w.get("weights_mean"),
               weights_sd=w.get("weights_sd"))
    return out
