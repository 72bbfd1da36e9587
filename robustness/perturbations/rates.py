"""Rates as users write them: on the command line (``--rate``, ``--rates``, ``--augment NAME:RATE``) and
in sweep configs.

A rate is a number in [0, 1] (the share of all units to edit), ``none`` (also ``study``, ``all``:
every eligible unit, the reference study's behaviour) or ``default`` (the perturbation's own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from xner.errors import XnerError

__all__ = ["DEFAULT_RATE", "Rate", "parse_rate", "parse_rate_specs", "parse_rates", "rate_params"]

DEFAULT_RATE: Literal["default"] = "default"
#: a parsed rate: a share, None (every eligible unit) or DEFAULT_RATE (the perturbation's own)
Rate = float | None | Literal["default"]


def parse_rate(value: str | float | None) -> Rate:
    """A rate from text or a config value.  None (no rate given in a config) is ``DEFAULT_RATE``;
    anything else that is not a number in [0, 1] or one of the words above is an :class:`XnerError`."""
    if value is None or value == DEFAULT_RATE:
        return DEFAULT_RATE
    if isinstance(value, str) and value in ("none", "study", "all"):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        # numbers from a config keep their type: it is part of the perturbation's key (1 and 1.0 differ)
        r = value if isinstance(value, int | float) else float(value)
    except (TypeError, ValueError):
        raise XnerError(f"bad rate {value!r}: a number in [0, 1], or 'none' (every eligible unit)") from None
    if not 0 <= r <= 1:
        raise XnerError(f"rate {r} is not in [0, 1]")
    return r


def parse_rates(text: str) -> list[Rate]:
    """``'0.1,0.3,none'`` -> [0.1, 0.3, None]."""
    return [parse_rate(x) for x in text.split(",")]


def parse_rate_specs(text: str | None, default: Rate = 0.3, option: str = "--augment",
                     check: Callable[[str], None] | None = None) -> list[tuple[str, Rate]]:
    """``'name_swap:0.3,char_noise'`` -> [("name_swap", 0.3), ("char_noise", default)].  ``check`` is
    called on each name after its rate is parsed (to reject unknown names in order); ``option`` names
    the flag in error messages."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        name, _, rate = part.partition(":")
        try:
            r = parse_rate(rate) if rate else default
        except XnerError:
            raise XnerError(f"{option}: bad rate in {part!r} (NAME:RATE)") from None
        if check is not None:
            check(name)
        out.append((name, r))
    return out


def rate_params(rate: Rate) -> dict[str, float | None]:
    """Keyword arguments for ``make``: none for ``DEFAULT_RATE``, else ``rate``."""
    return {} if rate == DEFAULT_RATE else {"rate": rate}
