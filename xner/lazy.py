"""Lazy package exports: a package's public names are imported from their module on first use, so
importing the package (as every command's registration does) costs nothing.  ``xner predict`` then
loads neither the statistics of the report (scipy) nor training (torch)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: dict[str, str]) -> tuple[list[str], Callable, Callable]:
    """(``__all__``, ``__getattr__``, ``__dir__``) for ``package`` whose public ``names`` live in the
    given submodules (``{"Store": ".store"}``; ``"build_report": ".report:build"`` renames)."""

    def __getattr__(name: str):
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = where.partition(":")
        value = getattr(importlib.import_module(module, package), attr or name)
        importlib.import_module(package).__dict__[name] = value  # once resolved, an ordinary attribute
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return sorted(names), __getattr__, __dir__
