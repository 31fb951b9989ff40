"""The CITES Trade Database's accepted term-unit and term-purpose pairs (secondary rules).

The pairs are UNEP-WCMC's own validator data, kept as published in registry/data (the header of
each file names its source). A pair outside them is a warning the Trade Database asks to confirm,
never a rejection (cites-standards.md §2.3 c, §4.2). A term the data says nothing about (BUL, WHO,
the 2021 codes) is not checked: its pairs are unknown, not forbidden.
"""

from __future__ import annotations

import csv
import functools
from collections import defaultdict
from pathlib import Path

from registry import codes

DATA = Path(__file__).parent / "data"


def _read(name: str, column: str) -> dict[str, frozenset[str]]:
    pairs: dict[str, set[str]] = defaultdict(set)
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        lines = (line for line in f if not line.startswith("#"))
        for row in csv.DictReader(lines):
            pairs[row["TERM_CODE"]].add(row[column] or "")
    return {term: frozenset(values) for term, values in pairs.items()}


@functools.cache
def term_units() -> dict[str, frozenset[str]]:
    """Each term's accepted units, in current codes (the file has the pre-2021 ones)."""
    return {
        term: frozenset(codes.canonical_unit(u) for u in units)
        for term, units in _read("term_units.csv", "UNIT_CODE").items()
    }


@functools.cache
def term_purposes() -> dict[str, frozenset[str]]:
    """Each term's accepted purposes."""
    return _read("term_purposes.csv", "PURPOSE_CODE")


def unit_accepted(term: str, unit: str | None) -> bool | None:
    """Whether the Trade Database accepts *unit* for *term* (None: nothing known about the term)."""
    accepted = term_units().get(term)
    return None if accepted is None else codes.canonical_unit(unit) in accepted


def purpose_accepted(term: str, purpose: str) -> bool | None:
    """Whether the Trade Database accepts *purpose* for *term* (None: nothing known about the term)."""
    accepted = term_purposes().get(term)
    return None if accepted is None else purpose in accepted
