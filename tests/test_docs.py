"""Documentation that cannot drift from the code: the command reference is generated from the parsers
and must match them (a command or flag added without regenerating it fails here); the README stays a
front page (at most 260 lines) whose links point at pages that exist; the site's navigation lists
every page (`mkdocs build --strict` in the test command checks links and anchors)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from xner.docs_cli import commands, options, render

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "docs" / "reference" / "cli.md"


def missing_from(page: str, cmds) -> list[str]:
    """Commands and flags of ``cmds`` that ``page`` does not document."""
    out = []
    for name, p in cmds:
        if f"## xner {name}\n" not in page:
            out.append(f"xner {name}")
            continue
        section = page.split(f"## xner {name}\n", 1)[1].split("\n## xner ", 1)[0]
        for a in options(p):
            for flag in a.option_strings or [a.metavar or a.dest]:
                if f"`{flag}`" not in section:
                    out.append(f"xner {name} {flag}")
    return out


def test_the_committed_reference_is_the_generated_one():
    assert REF.read_text(encoding="utf-8") == render(), \
        "docs/reference/cli.md is stale: run  python -m xner.docs_cli > docs/reference/cli.md"


def test_every_command_and_flag_has_a_reference_entry():
    page = REF.read_text(encoding="utf-8")
    cmds = commands()
    assert len(cmds) >= 24 and not missing_from(page, cmds)


def test_a_flag_added_without_regenerating_is_caught(monkeypatch):
    """The check can fail: a parser with a new flag the committed page does not know."""
    page = REF.read_text(encoding="utf-8")
    cmds = commands()
    name, p = next((n, q) for n, q in cmds if n == "evaluate")
    p.add_argument("--brand-new-flag", help="added without regenerating the reference")
    assert missing_from(page, cmds) == ["xner evaluate --brand-new-flag"]
    extra = argparse.ArgumentParser(prog="xner fresh")
    assert missing_from(page, [("fresh", extra)]) == ["xner fresh"]


def test_readme_is_a_front_page_with_live_links():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 260
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", text):
        assert (ROOT / target).is_file(), f"README links to a missing page: {target}"


def test_every_docs_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert pages and [p for p in pages if p not in nav] == []


def test_the_demo_description_names_the_demo_config_pairs():
    """Review of issue 28: `xner demo --help` named pairs (ar->fa) the demo does not run."""
    import re

    from xner.cli import build_parser
    from xner.experiments.config import load_config
    from xner.langs import pair_of

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = " ".join(sub.choices["demo"].description.split())
    named = re.search(r"pairs ([^;]+);", text).group(1)
    pairs = {tuple(x.strip().split("->")) for x in named.split(",")}
    cfg = load_config("demo")
    assert pairs == {(pair_of(t), t) for t in cfg["targets"]}


def test_the_site_opens_from_disk():
    """Review of issue 28: the README says to open site/index.html from disk; with directory URLs
    every link opened a folder listing, so pages must be built as page.html files."""
    import yaml

    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:")[0])
    assert cfg.get("use_directory_urls") is False
