"""report.html: the sweep report as one self-contained page beside report.md, built from a small
store of synthetic cells (no model is trained), then opened in a real headless Chromium (Debian's
``chromium`` driven by Playwright): no console errors, tables with rows, every plot loaded, a
click on a header sorts a numeric column. Without chromium or playwright the browser test skips,
unless XNER_REQUIRE_BROWSER=1 (CI), where it fails."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from xner.cli import main
from xner.experiments import Store, cell_key, pack_counts
from xner.experiments.identity import make_perturbation
from xner.experiments.report_html import REFERENCE

NAME = "html<&>check"  # a config name that must come out escaped
#: (setting, sources_spec, sources, weighting) -> true positives the perturbed cell loses (of 200 sentences)
SETTINGS = {("native", "", None, ""): 70, ("zero-shot", "pair", ("ar",), ""): 4,
            ("student", "pair", ("ar",), "uniform"): 30, ("student", "related:2", ("ar", "tr"), "langid"): 15}


def _cells() -> list[tuple[dict, dict, bytes | None]]:
    """(params, row, counts) of a small sweep: 4 settings x 2 targets x 2 training seeds, clean and
    char_noise, with per-sentence counts; and a comparable mBERT cell pair that gets the study's numbers."""
    rng = np.random.default_rng(0)
    m, out = 200, []
    for target, src in (("fa", "ar"), ("ms", "id")):
        gold = rng.integers(1, 4, size=(m, 3))
        for (kind, spec, sources, weighting), loss in SETTINGS.items():
            srcs = [target] if sources is None else [src if s == "ar" else s for s in sources]
            skill = rng.integers(1, 4, size=(m, 3))
            for seed in (0, 1):
                ident = {"data": {"source": "/data/wikiann", "test": f"{target}{'0' * 63}",
                                  "split": {"scheme": "study", "seed": 42, "train_max_sentences": 3000,
                                            "test_max_sentences": 200}},
                         "train_seed": seed, "bootstrap": 100, "distill": {"steps": 120} if kind == "student" else None}
                base = {"model": "tiny", "model_id": "init", "substituted_for": None, "setting": kind,
                        "sources_spec": spec, "sources": srcs, "target": target, "weighting": weighting,
                        "train_seed": seed, "identity": ident}
                tp = np.minimum(gold, skill + rng.integers(0, 2, size=(m, 3)))
                lost = np.zeros_like(tp)
                lost[rng.choice(m, loss + 3 * seed, replace=False), 0] = 1
                clean, pert = (np.stack([t, gold, gold], axis=-1) for t in (tp, np.maximum(tp - lost, 0)))
                f = [float(2 * c[..., 0].sum() / (c[..., 1].sum() + c[..., 2].sum())) for c in (clean, pert)]
                ov = {"entity_token_tag_overlap": float(rng.uniform(0.05, 0.6)), "shared_chunk_share_unique": 0.2,
                      "context_overlap": 0.4, "entity_token_overlap": float(rng.uniform(0.05, 0.6)), "shared_chunks_unique": int(rng.integers(1, 90)),
                      "seen_chunk_share": float(rng.uniform(0, 0.1)), "o_word_overlap": float(rng.uniform(0, 0.5))}
                row = {"f1": f[0], "clean_f1": f[0], "delta_f1": 0.0, "overlap": ov, "test_sentences": m,
                       "material_sentences": 3000, "per_type": {"PER": f[0] + 0.05, "ORG": f[0] - 0.1, "LOC": f[0]}}
                out.append(({**base, "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None},
                            row, pack_counts(clean)))
                out.append(({**base, "perturbation": "char_noise", "rate": "default", "seed": 0,
                             "perturbation_params": {"rate": 0.3}},
                            {**row, "f1": f[1], "delta_f1": f[1] - f[0],
                             "edit_rate": {"unit": "words", "requested": 0.3, "achieved": 0.29, "capped": False}},
                            pack_counts(pert)))
    # a comparable cell: the study's mBERT zero-shot ar->fa on the study's split
    ident = {"version": 2, "model": {"spec": {"hub": "bert-base-multilingual-cased"}, "substituted_for": None},
             "train": {"preset": "study"}, "distill": None, "export": {},
             "data": {"source": "/data", "split": {"scheme": "study", "seed": 42, "train_max_sentences": 0,
                                                   "test_max_sentences": 0}, "test": "b" * 64},
             "train_seed": 0, "bootstrap": 100}
    p = {"model": "mbert", "model_id": "bert-base-multilingual-cased", "substituted_for": None, "setting": "zero-shot",
         "sources_spec": "pair", "sources": ["ar"], "target": "fa", "weighting": "", "train_seed": 0,
         "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None, "identity": ident}
    swap = {**p, "perturbation": "name_swap", "rate": "default", "seed": 0,
            "perturbation_params": json.loads(json.dumps(make_perturbation("name_swap").params, default=str))}
    ov = {"entity_token_tag_overlap": 0.3, "shared_chunk_share_unique": 0.2, "context_overlap": 0.4,
          "entity_token_overlap": 0.25, "shared_chunks_unique": 14, "seen_chunk_share": 0.001, "o_word_overlap": 0.06}
    out.append((p, {"f1": 0.5, "clean_f1": 0.5, "delta_f1": 0.0, "per_type": {}, "ci": {}, "overlap": ov}, None))
    out.append((swap, {"f1": 0.45, "clean_f1": 0.5, "delta_f1": -0.05, "per_type": {}, "overlap": ov,
                       "ci": {"delta_f1": [-0.07, -0.03]},
                       "edit_rate": {"unit": "entities", "requested": None, "achieved": 0.3, "capped": None}}, None))
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html")
    store = root / "results.sqlite"
    cells = _cells()
    with Store(store) as st:
        run = st.log_run({"name": NAME, "targets": ["fa", "ms"], "bootstrap": 100}, {"versions": {"xner": "test"}},
                         [cell_key(p) for p, _, _ in cells])
        for p, row, counts in cells:
            st.put(p, row, counts, run=run)
    out = root / "report"
    assert main(["report", str(store), "--out", str(out), "--bootstrap", "100"]) == 0
    return out


def test_page_is_self_contained_and_says_what_the_markdown_says(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    md = (report / "report.md").read_text(encoding="utf-8")
    # nothing outside the file: plots are data URIs, no script or style from elsewhere
    assert re.findall(r'(?:src|href)="(?!data:)', page) == []
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(re.findall(r"!\[[^]]*\]\(", md)) == 4
    # the research question first, the run's account last
    assert page.index('id="research-question"') < page.index("<h2>ΔF1 per perturbation and rate</h2>") \
        < page.index("<h2>How this run was made</h2>")
    assert "Does a teacher-student NER model distilled" in page.split("<h2>ΔF1 per perturbation")[0]
    # every interval of the markdown's research-question table, set apart from its number
    rq = md.split("## Research question")[1].split("![")[0]
    intervals = re.findall(r"([+-]\d+\.\d) (\[[+-]\d+\.\d, [+-]\d+\.\d\])", rq)
    assert len(intervals) >= 8
    for value, ci in intervals:
        assert f'{value} <span class="ci">{ci}' in page  # an adjusted p may follow inside the span
    # reference numbers marked as the study's, with the legend
    assert f"= {REFERENCE.replace('&', '&amp;')}" in page
    assert re.search(r'<td class="num ref" data-sort="[\d.]+">\d+\.\d → \d+\.\d</td>', page)
    # the run: its config (escaped), versions, data
    assert NAME not in page and "html&lt;&amp;&gt;check" in page and "<script>" in page  # only the page's own
    assert page.count("<script>") == 1
    assert '"versions"' not in page and "&quot;versions&quot;" in page
    assert "/data/wikiann" in page.split("<h2>How this run was made</h2>")[1]


def _browser():
    """Playwright's sync API and Debian's chromium, else skip (or fail where XNER_REQUIRE_BROWSER=1)."""
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, why = None, "playwright is not installed (pip install -e '.[test]')"
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if why is None and exe is None:
        why = "no chromium on PATH (apt-get install chromium)"
    if why:
        if os.environ.get("XNER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{why}; XNER_REQUIRE_BROWSER=1 requires the browser test")
        pytest.skip(why)
    return sync_playwright, exe


def test_page_in_headless_chromium(report, tmp_path):
    sync_playwright, exe = _browser()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.goto((report / "report.html").as_uri(), wait_until="load")
            assert page.locator("table").count() >= 5 and page.locator("table tbody tr").count() > 10
            imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
            assert len(imgs) == 4 and all(done and width > 0 for done, width in imgs), imgs
            # the research question's ΔF1 column: not sorted as written, sorted after one click, reversed after two
            table = page.locator("section.question table")
            heads = table.locator("thead th").all_inner_texts()
            col = next(i for i, h in enumerate(heads) if h.strip().startswith("ΔF1"))

            def column() -> list[float]:
                shown = table.locator(f"tbody tr td:nth-child({col + 1})").all_inner_texts()
                return [float(s.split()[0]) for s in shown]

            before = column()
            assert len(before) == 5 and before != sorted(before)
            table.locator("thead th").nth(col).click()
            assert column() == sorted(before)
            assert table.locator("thead th").nth(col).get_attribute("aria-sort") == "ascending"
            table.locator("thead th").nth(col).click()
            assert column() == sorted(before, reverse=True)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
