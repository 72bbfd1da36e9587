"""Flat results: one row per cell, the same table in ``cells.csv``, ``xner results`` (CSV, JSON,
Parquet) and pandas / DuckDB; and the reference study's number for a cell, only where comparable."""

from __future__ import annotations

import csv
import io
import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

from xner.errors import XnerError
from xner.io import atomic_write, dumps

from .identity import variant
from .plan import setting_label

__all__ = ["COLUMNS", "OVERLAP", "REF_COLUMNS", "STUDY_OVERLAP", "XNER_OVERLAP", "flat_rows", "perturbation_label", "rate_label", "reference",
           "reference_f1", "write_table"]

#: our perturbation names -> the reference table's columns
REF_COLUMNS = {"clean": "clean", "entity_swap_shared": "entity_swap_shared", "context_swap": "context_swap_cosine",
               "entity_swap_shared+context_swap": "entity_and_context", "entity_and_context": "entity_and_context",
               "name_swap": "name_swap", "place_swap": "place_swap"}
#: the study's overlap measures lead (xner.overlap: what the study's notebooks compute); xner's
#: word-only, mention-based measures follow as extra columns
STUDY_OVERLAP = ("entity_token_tag_overlap", "shared_chunk_share_unique", "context_overlap")
XNER_OVERLAP = ("entity_token_overlap", "shared_chunks_unique", "seen_chunk_share", "o_word_overlap")
OVERLAP = STUDY_OVERLAP + XNER_OVERLAP
COLUMNS = ("model", "model_id", "substituted_for", "setting", "label", "sources_spec", "sources", "target", "weighting",
           "train_seed", "perturbation", "rate", "seed", "f1", "f1_lo", "f1_hi", "clean_f1", "delta_f1", "delta_f1_lo",
           "delta_f1_hi", "relative_drop", "edit_rate_unit", "edit_rate_requested", "edit_rate_achieved",
           "edit_rate_capped", "entity_edit_rate", "token_edit_rate", *OVERLAP, "test_sentences", "split_scheme",
           "split_seed", "train_max_sentences", "test_max_sentences", "bootstrap", "reference_f1", "variant",
           "config", "run", "key")
#: rates as written that mean "every eligible unit" for the study's perturbations (their default)
STUDY_RATES = ("default", "none", "study", "all")


def reference() -> dict[tuple[str, str, str], dict[str, float]]:
    """(train, test, model) -> {column: F1 x 100} from the study's saved outputs (shipped as data)."""
    text = resources.files("xner.resources").joinpath("reference_f1.csv").read_text()
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        out[(r["train"], r["test"], r["model"])] = {k: float(v) for k, v in r.items()
                                                    if k not in ("train", "test", "model") and v}
    return out


def rate_label(rate) -> str:
    return "" if rate is None else str(rate)


def perturbation_label(p: dict) -> str:
    """A cell's perturbation as reports name it: the spec, with the parameters the config gave."""
    args = p.get("perturbation_args") or {}
    return p["perturbation"] + (f"({', '.join(f'{k}={v}' for k, v in sorted(args.items()))})" if args else "")


@lru_cache(maxsize=64)
def _default_params(name: str) -> str:
    from .identity import make_perturbation

    return json.dumps(json.loads(json.dumps(make_perturbation(name).params, default=str)), sort_keys=True)


def reference_f1(params: dict, ref: dict | None = None) -> float | None:
    """The study's F1 x 100 for this cell, only where it is comparable: the same train and test
    languages, the same hub model (never a substituted one), native or zero-shot, the study's split
    (uncapped), and clean or one of the study's perturbations with its default parameters (every
    eligible unit: the default rate); None for every other cell."""
    ident = params.get("identity") or {}
    if params.get("substituted_for") or not ident or params.get("setting") not in ("native", "zero-shot"):
        return None
    split = (ident.get("data") or {}).get("split") or {}
    if split.get("scheme") != "study" or split.get("train_max_sentences") or split.get("test_max_sentences"):
        return None
    pert = params["perturbation"]
    if pert != "clean" and (pert not in REF_COLUMNS or str(params.get("rate")) not in STUDY_RATES
                            or json.dumps(params.get("perturbation_params"), sort_keys=True) != _default_params(pert)):
        return None
    train = params["target"] if params["setting"] == "native" else "+".join(params["sources"])
    ref = reference() if ref is None else ref
    return ref.get((train, params["target"], params.get("model_id", "")), {}).get(REF_COLUMNS[pert])


def _flat(r: dict, ref: dict, intervals: dict | None = None) -> dict:
    p = r["params"]
    ident = p.get("identity") or {}
    split = (ident.get("data") or {}).get("split") or {}
    e, er = r.get("edit") or {}, r.get("edit_rate") or {}
    # the report's engine (Analysis.cell_intervals) when given; the cell's own interval otherwise
    ci = (intervals or {}).get(r["key"]) if intervals is not None else (r.get("ci") or {})
    ci = ci or {}
    f1ci, dci = ci.get("f1"), ci.get("delta_f1")
    ov = r.get("overlap") or {}
    return {"model": p["model"], "model_id": p.get("model_id"), "substituted_for": p.get("substituted_for"),
            "setting": p["setting"], "label": p.get("label") or setting_label(p["setting"], p.get("sources_spec") or "",
                                                                       p.get("weighting") or ""),
            "sources_spec": p.get("sources_spec"), "sources": "+".join(p["sources"]),
            "target": p["target"], "weighting": p.get("weighting") or "", "train_seed": p.get("train_seed"),
            "perturbation": perturbation_label(p), "rate": None if p["perturbation"] == "clean" else rate_label(p["rate"]),
            "seed": p.get("seed"), "f1": r.get("f1"), "f1_lo": f1ci[0] if f1ci else None,
            "f1_hi": f1ci[1] if f1ci else None, "clean_f1": r.get("clean_f1"), "delta_f1": r.get("delta_f1"),
            "delta_f1_lo": dci[0] if dci else None, "delta_f1_hi": dci[1] if dci else None,
            "relative_drop": r.get("relative_drop"), "edit_rate_unit": er.get("unit"),
            "edit_rate_requested": None if er.get("requested") is None else float(er["requested"]),
            "edit_rate_achieved": er.get("achieved"), "edit_rate_capped": er.get("capped"),
            "entity_edit_rate": e.get("entity_edit_rate"), "token_edit_rate": e.get("token_edit_rate"),
            **{k: ov.get(k) for k in OVERLAP}, "test_sentences": r.get("test_sentences"),
            "split_scheme": split.get("scheme"), "split_seed": split.get("seed"),
            "train_max_sentences": split.get("train_max_sentences"), "test_max_sentences": split.get("test_max_sentences"),
            "bootstrap": ci.get("bootstrap", ident.get("bootstrap")), "reference_f1": reference_f1(p, ref), "variant": variant(p),
            "config": r.get("config"), "run": r.get("run"), "key": r["key"]}


def flat_rows(rows: list[dict], intervals: dict | None = None) -> list[dict]:
    """One flat dict per cell (``COLUMNS``), clean cells first within each model, in a stable order;
    ``intervals`` (:meth:`.analysis.Analysis.cell_intervals`) gives the F1 and ΔF1 intervals."""
    ref = reference()
    out = [_flat(r, ref, intervals) for r in rows]
    out.sort(key=lambda f: (f["model"], f["target"], f["setting"], f["sources"], f["weighting"], f["variant"],
                            f["train_seed"] if f["train_seed"] is not None else -1, f["perturbation"] != "clean",
                            f["perturbation"], f["rate"] or "", f["seed"] if f["seed"] is not None else -1))
    return out


def _csv_text(flat: list[dict], columns: tuple | list = COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(flat)
    return buf.getvalue()


def write_table(flat: list[dict], out: str | Path | None, fmt: str = "csv", overwrite: bool = False,
                inputs: tuple | list = (), columns: tuple | list | None = None) -> None:
    """Write the flat table as csv, json (an array of records) or parquet to ``out``, or to stdout when
    ``out`` is None (not parquet).  An existing ``out`` is refused unless ``overwrite``.  ``columns``:
    the cells table's :data:`COLUMNS` by default; None for another table takes its records' keys."""
    columns = list(columns) if columns is not None else list(COLUMNS)
    if fmt not in ("csv", "json", "parquet"):
        raise XnerError("--format must be csv, json or parquet")
    if out is not None:
        from xner.outputs import claim_file

        claim_file(out, inputs=inputs, overwrite=overwrite)
    if fmt == "parquet":
        if out is None:
            raise XnerError("parquet is binary: give --out FILE")
        import os

        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist([{c: f.get(c) for c in columns} for f in flat])
        tmp = Path(f"{out}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, out)
        _record(out)
        return
    text = _csv_text(flat, columns) if fmt == "csv" else \
        dumps([{c: f.get(c) for c in columns} for f in flat], indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write(out, [text])
        _record(out)


def _record(out) -> None:
    from xner.outputs import record_file

    record_file(out, "xner results")
