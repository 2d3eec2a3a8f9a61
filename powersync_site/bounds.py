"""Bounds every entry point shares (web forms and the API): what a household may type, in one
place, so a value that passes one door cannot break another. (What a tariff may hold, names and
amounts, is the engine's: tariffs/engine/bounds.py.)

Dates: 2000-01-01 to 2099-12-31. No price, push or event of ours lies outside, and a day either
side of a bound still exists (Python's dates end at 9999-12-31, where "the next day" fails).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

DATE_MIN = dt.date(2000, 1, 1)
DATE_MAX = dt.date(2099, 12, 31)


def date_in_range(value: dt.date) -> None:
    """Validator: refuse a date outside DATE_MIN..DATE_MAX, saying which range."""
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValidationError(
            f"Choose a date between {DATE_MIN:%d %b %Y} and {DATE_MAX:%d %b %Y}.",
            code="date_out_of_range",
        )


# JSON a household sends (a plan's definition, a profile's tariff): a real one is 6 levels deep.
JSON_MAX_DEPTH = 32
JSON_TOO_DEEP = f"is nested more than {JSON_MAX_DEPTH} levels deep"


def json_problem(value: object) -> str | None:
    """Why parsed JSON cannot be kept (None: it can): nested deeper than JSON_MAX_DEPTH, or a NUL
    character in a string or key (PostgreSQL's JSON cannot store one). Iterative: any depth."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            return JSON_TOO_DEEP
        if isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    return "contains a NUL character"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None
