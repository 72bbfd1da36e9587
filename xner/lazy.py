"""Lazy package exports: a package's public names are imported from their module on first use, so
importing the package (as every command's registration does) costs nothing.  ``xner predict`` then
loads neither the statistics of the report (scipy) nor training (torch).

A public name may be the name of the module that defines it (``xner.experiments.plan`` the function
and ``plan.py``); importing such a submodule sets the package's attribute to the module, so the
package's class looks the export up whenever the attribute holds that submodule."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable

__all__ = ["lazy_exports"]


class _LazyPackage(types.ModuleType):
    _exports: dict[str, str]

    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        if isinstance(value, types.ModuleType) and not name.startswith("__"):
            exports = super().__getattribute__("__dict__").get("_xner_exports", {})
            where = exports.get(name)
            if where is not None and where.partition(":")[0].lstrip(".") == name and \
                    value.__name__ == f"{super().__getattribute__('__name__')}.{name}":
                return getattr(value, where.partition(":")[2] or name)  # the export, not its module
        return value


def lazy_exports(package: str, names: dict[str, str]) -> tuple[list[str], Callable, Callable]:
    """(``__all__``, ``__getattr__``, ``__dir__``) for ``package`` whose public ``names`` live in the
    given submodules (``{"Store": ".store"}``; ``"build_report": ".report:build"`` renames)."""
    module = sys.modules[package]
    module.__dict__["_xner_exports"] = dict(names)
    module.__class__ = _LazyPackage

    def __getattr__(name: str):
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod, _, attr = where.partition(":")
        value = getattr(importlib.import_module(mod, package), attr or name)
        if not (mod.lstrip(".") == name):  # (a name shared with its module is looked up each time instead)
            module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return sorted(names), __getattr__, __dir__
