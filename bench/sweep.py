"""Sweep suite: end-to-end cells per minute and where the time goes (artefacts, perturb, encode,
infer, score), on a small sweep with a model built by init-model."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .data import default_data_dir
from .harness import SuiteResult, Timing


def config(quick: bool, vocab_spec: str | None) -> dict:
    init = {"arch": "bert", "hidden": 128, "layers": 2, "heads": 2, "max_length": 128}
    if vocab_spec:
        init["vocab"] = vocab_spec
    else:
        init["vocab_size"] = 8000
    return {
        "name": "bench-sweep", "targets": ["ms"] if quick else ["ms", "af"],
        "perturbations": ["name_swap", "char_noise", "entity_swap_shared"] if quick else
        ["name_swap", "place_swap", "entity_resample", "char_noise", "random_token", "entity_swap_shared"],
        "rates": ["default"] if quick else ["default", 0.1], "seeds": [0] if quick else [0, 1],
        "test_max_sentences": 300 if quick else 1000, "train_max_sentences": 2000, "bootstrap": 200,
        "models": {"tiny": {"init": init}},
        "train": {"preset": "scratch", "max_steps": 25 if quick else 40}, "export": {"quantize": "int8"},
        "settings": [{"kind": "native"}, {"kind": "zero-shot", "sources": "pair"}],
    }


STAGES = ("perturb", "encode", "vectors", "infer", "score")


def _evaluation_seconds(rows: list[dict]) -> float:
    return sum(sum(x.get("seconds", {}).get(k, 0.0) for k in STAGES) for x in rows)


def _cell(row: dict) -> tuple:
    p = row["params"]
    return (p["setting"], p["target"], p["perturbation"], str(p["rate"]), p["seed"], p["train_seed"])


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    from xner.experiments import Store, run_sweep
    from xner.hub import local_mbert_vocab

    d = default_data_dir(data_dir)
    res = SuiteResult("sweep")
    if d is None:
        res.notes.append("no WikiANN data folder: the sweep suite needs --data-dir or XNER_DATA_DIR")
        return res
    cfg = config(quick, "mbert" if local_mbert_vocab(d) else None)
    if quick:  # reuse the model the other suites built
        from .inference import build

        cfg["models"] = {"tiny": {"path": str(build("tiny", Path(tempfile.mkdtemp(prefix="xner-bench-")), data_dir))}}
    store = Path(tempfile.mkdtemp(prefix="xner-bench-sweep-")) / "results.sqlite"
    # 1. the whole sweep as users run it (int8, incremental evaluation)
    t0 = time.perf_counter()
    r = run_sweep(cfg, store, data_dir=d, progress=False)
    total = time.perf_counter() - t0
    with Store(store) as st:
        rows = st.rows()
    stages = {k: sum(x.get("seconds", {}).get(k, 0.0) for x in rows) for k in STAGES}
    evaluation = sum(stages.values())
    stages["artefacts (train, export) and setup"] = max(0.0, total - evaluation)
    res.settings.update(cells=r["cells"], groups=len({(x["params"]["setting"], x["params"]["target"]) for x in rows}),
                        data=d)
    res.add(Timing("whole sweep", total, total, total, 1, float(r["cells"]), "cells"))
    res.notes.append(f"{60 * r['cells'] / total:.1f} cells per minute end to end; evaluation alone "
                     f"{60 * r['cells'] / max(evaluation, 1e-9):.1f} cells per minute")
    res.notes.append("time: " + ", ".join(f"{k} {v:.1f} s ({100 * v / total:.1f}%)" for k, v in stages.items()))
    res.settings["stages"] = stages
    # 2. incremental against full re-inference on the same grid, float32 graphs (where the two are exact),
    #    alternating, into one store: the artefacts are built once and shared
    fstore = store.with_name("float.sqlite")
    secs: dict[bool, list[float]] = {True: [], False: []}
    f1s: dict[bool, dict] = {}
    for rep, inc in enumerate([False, True, True, False] if not quick else [False, True]):
        part = fstore.with_name(f"float-{rep}.sqlite")
        run_sweep({**cfg, "export": {}, "incremental": inc}, part, data_dir=d, progress=False)
        with Store(part) as st:
            got = [x for x in st.rows() if x["params"]["perturbation"] != "clean"]
        secs[inc].append(_evaluation_seconds(got))
        f1s.setdefault(inc, {_cell(x): x["f1"] for x in got})
    n = len(f1s[True])
    inc_t = Timing("perturbed cells, incremental (float32)", min(secs[True]), min(secs[True]), max(secs[True]),
                   len(secs[True]), float(n), "cells")
    full_t = Timing("perturbed cells, full re-inference (float32)", min(secs[False]), min(secs[False]),
                    max(secs[False]), len(secs[False]), float(n), "cells")
    res.add(inc_t)
    res.add(full_t)
    res.ratio("incremental evaluation", inc_t, full_t, required=None if quick else 2.0)
    same = f1s[True] == f1s[False]
    res.notes.append(f"incremental vs full re-inference on {n} perturbed float32 cells: F1 identical in every cell: "
                     f"{same}; {60 * n / inc_t.median_s:.1f} vs {60 * n / full_t.median_s:.1f} cells per minute "
                     "(evaluation time: perturb + encode + infer + score)")
    if not same:
        raise AssertionError("incremental and full evaluation disagree on a float32 model")
    return res
