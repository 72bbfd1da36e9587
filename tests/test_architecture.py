"""The house rules, read from the code itself (README, "Architecture"):

* dependencies point one way: core (``xner/``) <- training, export <- robustness <- experiments <- bench,
  with the command-line modules (``xner/cli.py``, ``xner/commands.py``, ``*/cli.py``, ``*/*_cli.py``) on top;
  a stage never imports a stage beside or above it;
* no module imports another module's private (underscore) name;
* no module is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> its package and layer; a module may import its own package or a lower layer
PACKAGES = {"xner": ("core", 0), "training": ("training", 1), "export": ("export", 1),
            "robustness": ("robustness", 2), "experiments": ("experiments", 3), "bench": ("bench", 4)}
CLI_LAYER = 9
COMMAND_MODULES = {"xner.cli", "xner.commands", "xner.__main__"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for folder, _ in PACKAGES.items():
        base = ROOT / folder
        if not base.is_dir():
            continue
        for f in sorted(base.rglob("*.py")):
            rel = f.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join(["xner"] + ([] if folder == "xner" else [folder]) + parts)
            out[name] = f
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if module in COMMAND_MODULES or parts[-1] == "cli" or parts[-1].endswith("_cli") or (len(parts) > 2 and parts[2] == "cli"):
        return "cli", CLI_LAYER
    if len(parts) > 1 and parts[1] in PACKAGES and parts[1] != "xner":
        return PACKAGES[parts[1]]
    return PACKAGES["xner"]


def _imports(name: str, path: Path):
    """(imported module, imported names, line) for every import of a project module, also inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "xner":
                    yield a.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "xner":
                continue
            names = [a.name for a in node.names]
            modules = ALL
            if not node.module or f"{mod}.{names[0]}" in modules:  # "from . import x" / "from .pkg import mod"
                for n in names:
                    yield (f"{mod}.{n}" if f"{mod}.{n}" in modules else mod), [], node.lineno
            else:
                yield mod, names, node.lineno


MODULES = _modules()
ALL = dict(MODULES)  # for resolving imports (MODULES is what the checks walk)


def test_the_tree_is_read():
    assert {"xner.corpus", "xner.training.finetune", "xner.export.runtime", "xner.cli"} <= set(MODULES)


def test_dependencies_point_one_way():
    bad = []
    for name, path in MODULES.items():
        src_pkg, src_layer = _layer(name)
        for target, _, line in _imports(name, path):
            dst_pkg, dst_layer = _layer(target)
            if dst_pkg == src_pkg or src_layer == CLI_LAYER:
                continue
            if dst_layer >= src_layer:
                bad.append(f"{_rel(path)}:{line}: {src_pkg} imports {target} ({dst_pkg})")
    assert not bad, "imports against the direction core <- training, export <- robustness <- experiments <- " \
                    "bench:\n" + "\n".join(bad)


def test_no_private_names_across_modules():
    bad = []
    for name, path in MODULES.items():
        for target, names, line in _imports(name, path):
            if target == name:
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    bad.append(f"{_rel(path)}:{line}: imports {target}.{n}")
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{_rel(MODULES[name])} has {n} lines (house limit {MAX_LINES})"


def test_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself can fail: an export module importing training is reported."""
    fake = {"xner.export.fake": tmp_path / "fake.py"}
    fake["xner.export.fake"].write_text("from xner.training.finetune import finetune\n")
    import sys

    monkeypatch.setattr(sys.modules[__name__], "MODULES", fake)
    with pytest.raises(AssertionError, match="export imports xner.training.finetune"):
        test_dependencies_point_one_way()
