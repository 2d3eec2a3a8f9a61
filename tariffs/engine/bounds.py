"""What a tariff may hold, whoever wrote it (a household's plan, a saved profile, the API): the
same bounds at every door, so nothing that passes one can break another later (a push, a page).

- Names (plan, utility, code, season, period): at most NAME_MAX_CHARS characters, no control
  characters (a NUL cannot even be stored).
- Amounts (rates in $/kWh, daily charges in $, demand charges in $/kW): at most
  AMOUNT_MAX_DOLLARS. The NEM's market price cap is about $20/kWh and our own export tariffs stay
  under it; a bigger figure is a mistyped exponent, not a price.
"""

from __future__ import annotations

from decimal import Decimal

NAME_MAX_CHARS = 120
AMOUNT_MAX_DOLLARS = Decimal("1000")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be a name (None: it can)."""
    if len(value) > NAME_MAX_CHARS:
        return f"is {len(value)} characters long (at most {NAME_MAX_CHARS})"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return "contains a control character"
    return None


def amount_problem(value: Decimal | float | int) -> str | None:
    """Why ``value`` ($) cannot be a rate or charge, past its sign and finiteness (None: it can)."""
    if value > AMOUNT_MAX_DOLLARS:
        return f"is over ${AMOUNT_MAX_DOLLARS} (no rate or charge comes near it)"
    return None
