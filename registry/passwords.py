"""What makes a password acceptable: the one rule every path that sets a password asks.

ASVS 5.0 V6.2: at least 12 characters, counted as Unicode characters (spaces and any script
allowed), at most 128, and no composition rules ("one digit, one symbol"), which only make
passwords harder to remember without making them harder to guess. Instead a password is refused
when it is guessable: on the list of common and breached passwords shipped in
``registry/data/common-passwords.txt`` (compared without regard to case), such a password with a
few digits or symbols added, one short part repeated, a run of consecutive characters, or built
from the account's own name or this service's name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from registry.i18n import _

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_LIST = Path(__file__).parent / "data" / "common-passwords.txt"
#: Words of this service that make a password guessable to anyone who knows where it is used.
SERVICE_WORDS = frozenset({"wildlife", "registry", "cites", "wildliferegistry", "citesregistry"})
#: Digits or symbols around a common password that still leave it guessable ("password2026!").
_AFFIX = re.compile(r"^([\W\d_]*)(.*?)([\W\d_]*)$")
_MAX_AFFIX = 6
#: Runs a password may not be a piece of: counting, the alphabet, the keyboard's rows.
_RUNS = ("0123456789" * 3, "abcdefghijklmnopqrstuvwxyz" * 2, "qwertyuiopasdfghjklzxcvbnm")
#: A name shorter than this is not looked for inside a password (it would refuse too much); a
#: part of a name (a first name, a piece of an e-mail address) must be a little longer still.
_MIN_CONTEXT = 3
_MIN_CONTEXT_PART = 4


def normalised(password: str) -> str:
    """The password as hashed and counted: NFKC, so that the same text typed on two systems
    (Hangul composed on one, decomposed on the other) is the same password."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    with COMMON_LIST.open(encoding="utf-8") as lines:
        return frozenset(w for w in (line.strip() for line in lines) if w and not w.startswith("#"))


def refusal(password: str, context: Iterable[str | None] = ()) -> str | None:
    """Why *password* may not be used, in the reader's language; None when it may.

    *context* holds the account's own words: its user name, full name and e-mail address.
    """
    text = normalised(password or "")
    if len(text) < MIN_LENGTH:
        return _("at least %(count)s characters", count=MIN_LENGTH)
    if len(text) > MAX_LENGTH:
        return _("at most %(count)s characters", count=MAX_LENGTH)
    folded = text.casefold()
    if _trivial(folded):
        return _("too easy to guess: one short part repeated, or consecutive characters")
    if _common(folded):
        return _("too common: this password or a variant of it is on the list of known passwords")
    for word in _context_words(context):
        if word in folded or word[::-1] in folded:
            return _("must not contain your user name, your name or your e-mail address")
    return None


def _common(folded: str) -> bool:
    """On the list, or a listed password (or this service's name) with a few digits or symbols around it."""
    core = _AFFIX.match(folded)
    assert core is not None  # the pattern matches every string
    prefix, stem, suffix = core.groups()
    if folded in common_passwords():
        return True
    stem_common = stem in common_passwords() or stem in SERVICE_WORDS
    return stem_common and (len(prefix + suffix) <= _MAX_AFFIX or _trivial(prefix + suffix))


def _trivial(text: str) -> bool:
    """One short part repeated ("abcabcabcabc"), a common password repeated, or a run."""
    if not text:
        return True
    period = next(p for p in range(1, len(text) + 1) if text == (text[:p] * (len(text) // p + 1))[: len(text)])
    if period < len(text) and (period < MIN_LENGTH // 2 or text[:period] in common_passwords()):
        return True
    return any(text in run or text in run[::-1] for run in _RUNS)


def _context_words(context: Iterable[str | None]) -> set[str]:
    words = set()
    for value in context:
        if not value:
            continue
        # An e-mail address's domain is shared by everyone there; only the part before "@" is theirs.
        value = normalised(value).casefold().split("@")[0]
        if len(value) >= _MIN_CONTEXT:
            words.add(value)
        words.update(w for w in re.split(r"[\s._+-]+", value) if len(w) >= _MIN_CONTEXT_PART)
    return words
