"""CSV cells a spreadsheet will not run: text that starts like a formula gets a leading apostrophe.

Names, notes and findings come from users and imported files; opened in a spreadsheet, a cell
such as ``=HYPERLINK(...)`` or ``@SUM(...)`` would be evaluated (OWASP "CSV injection"). Numbers
and dates are left alone, so a negative quantity stays a number.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def row(values: dict) -> dict:
    return {key: cell(value) for key, value in values.items()}
