"""Marking text for translation, and translating it where the text is made.

``N_`` marks a string for extraction where it is declared (lifecycle labels in the machines) and
leaves it as is; templates translate it when they show it, in the reader's language.

``_`` translates at once: services and lifecycles call it when they refuse something, so the
reason reaches the user in their language. Placeholders are named (``%(facility)s``) because a
Korean sentence puts them in another order. Outside a request (the CLI, cron jobs) the text stays
English.
"""

from flask import has_request_context
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l  # noqa: F401  (form labels, translated when rendered)


def N_(text: str) -> str:
    return text


def _(text: str, **params) -> str:
    if has_request_context():
        return gettext(text, **params)
    return text % params if params else text


def reader_locale() -> str:
    """The reader's language code ("en", "ko"); English outside a request."""
    return str(get_locale() or "en") if has_request_context() else "en"
