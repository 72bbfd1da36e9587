"""The command reference (``docs/reference/cli.md``), generated from the argparse parsers themselves,
so every command and flag appears with its help text and none can be documented that does not exist.

    python -m xner.docs_cli > docs/reference/cli.md

``tests/test_docs.py`` fails when the committed page differs from what this prints (a flag added,
renamed or re-described without regenerating it)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["commands", "render"]

HEADER = """# Command reference

Generated from the command-line parsers by `python -m xner.docs_cli > docs/reference/cli.md`; a test fails
when this page and the parsers disagree. Every command also answers `--help`. Old flag names that still
work (hidden aliases) are listed in the [user guide](../guide/conventions.md), not here.
"""


def _subparsers(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def commands(parser: argparse.ArgumentParser | None = None, prefix: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command as (``"data stats"``, parser), depth first, in the order they were added."""
    if parser is None:
        from .cli import build_parser

        parser = build_parser()
    out = []
    for name, sub in _subparsers(parser).items():
        full = f"{prefix} {name}".strip()
        out.append((full, sub))
        out.extend(commands(sub, full))
    return out


def _flags(a: argparse.Action) -> str:
    if not a.option_strings:
        return f"`{a.metavar or a.dest}`"
    return ", ".join(f"`{o}`" for o in a.option_strings)


def _default(a: argparse.Action) -> str:
    if isinstance(a, argparse._StoreTrueAction | argparse._StoreFalseAction | argparse._HelpAction):
        return ""
    if a.default in (None, argparse.SUPPRESS) or a.required:
        return ""
    return f"`{a.default}`"


def _clean(text: str | None, a: argparse.Action | None = None) -> str:
    text = text or ""
    if a is not None and "%(" in text:  # argparse's own substitutions (%(default)s, ...)
        text = text % {**vars(a), "prog": ""}
    return " ".join(text.replace("|", "\\|").split())


def options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    """The documented options of a parser: every action but help, hidden aliases and subcommands."""
    return [a for a in p._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
            and not isinstance(a, argparse._SubParsersAction)]


def render() -> str:
    lines = [HEADER]
    cmds = commands()
    lines.append("| command | what it does |\n|---|---|")
    from .cli import build_parser

    top = _subparsers(build_parser())
    helps = {c.dest: c.help for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
             for c in a._choices_actions}
    for name in top:
        lines.append(f"| [`xner {name}`](#xner-{name.replace(' ', '-')}) | {_clean(helps.get(name))} |")
    lines.append("")
    for name, p in cmds:
        lines.append(f"## xner {name}\n")
        if p.description:
            lines.append(_clean(p.description) + "\n")
        usage = " ".join(p.format_usage().split())
        lines.append(f"```\n{usage.removeprefix('usage: ')}\n```\n")
        opts = options(p)
        if opts:
            lines.append("| option | default | choices | description |\n|---|---|---|---|")
            for a in opts:
                ch = ", ".join(f"`{c}`" for c in a.choices) if a.choices and not isinstance(a.choices, dict) else ""
                req = " (required)" if a.required else ""
                lines.append(f"| {_flags(a)}{req} | {_default(a)} | {ch} | {_clean(a.help, a)} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
