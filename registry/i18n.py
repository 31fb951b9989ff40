"""Marking text for translation, and translating it where the text is made.

``N_`` marks a string for extraction where it is declared (lifecycle labels in the machines) and
leaves it as is; templates translate it when they show it, in the reader's language.

``_`` translates at once: services and lifecycles call it when they refuse something, so the
reason reaches the user in their language. Placeholders are named (``%(facility)s``) because a
Korean sentence puts them in another order. Outside a request (the CLI, cron jobs) the text stays
English.
"""

from flask import g, has_request_context
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l  # noqa: F401  (form labels, translated when rendered)


def N_(text: str) -> str:
    return text


def _(text: str, **params) -> str:
    if has_request_context():
        translated = page_gettext(text)
        return translated % params if params else translated
    return text % params if params else text


def reader_locale() -> str:
    """The reader's language code ("en", "ko"); English outside a request."""
    return str(get_locale() or "en") if has_request_context() else "en"


def page_gettext(text: str) -> str:
    """``gettext`` for templates and ``|label``, remembered for the request: a page says "Due" or a
    state's name once per row, and looks each up in the catalogue once. Outside a request, as is."""
    if not has_request_context():
        return text
    memo = g.setdefault("_translated", {})
    key = (str(get_locale()), text)
    if key not in memo:
        memo[key] = get_translations().ugettext(text)
    return memo[key]


def install(app) -> None:
    """Templates' ``_``/``gettext`` through ``page_gettext`` (after Flask-Babel installed its own)."""
    app.jinja_env.install_gettext_callables(
        gettext=page_gettext,
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
