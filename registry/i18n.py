"""Marking text for translation.

``N_`` marks a string for extraction where it is declared (lifecycle labels in the machines) and
leaves it as is; templates translate it when they show it, in the reader's language.
"""
from flask_babel import lazy_gettext as _l  # noqa: F401  (form labels, translated when rendered)


def N_(text: str) -> str:
    return text
