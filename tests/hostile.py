"""Hypothesis strategies for hostile input, shared by the tests that throw it at every entry point.

Each strategy mixes a few hand-picked values (the ones that broke something once, or are known to break
such code: a lone surrogate, the last day there is, 2**63) with generated ones around them, so that a
small number of examples still reaches every kind.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_from_bytes

from hypothesis import strategies as st

#: Values that were or could be read as something other than text: markup for the browser and for
#: ReportLab's paragraph parser, spreadsheet formulas, SQL, format strings, path traversal.
MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    '<img src="/etc/hostname"/>',
    "<para>x</para>",
    "<font color=red>x",
    "a<b",
    "x & y &amp; &#0; &lt;",
    "{{ 7*7 }}",
    "%(name)s %s {0}",
    "../../etc/passwd",
]
FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0"]
SQL = ["' OR '1'='1", "1; DROP TABLE permit;--", "%", "_", "\\", "' UNION SELECT NULL--"]
#: Characters that change how text is shown or compared: right-to-left override, zero-width, BOM,
#: line and paragraph separators, controls, combining marks, a character outside the BMP.
INVISIBLE = ["\u202eevil\u202c", "a\u200bb", "\ufeffbom", "a\u2028b\u2029", "\x1b[31m", "\x7f", "e\u0301", "\U0001f99c"]
CONTROL = ["\x00", "a\x00b", "\x01\x02", "line\nbreak", "cr\rlf", "tab\there", "\x0b\x0c"]
NUMBERS = [
    "0",
    "-1",
    "2147483647",
    "2147483648",
    str(2**63 - 1),
    str(2**63),
    str(10**30),
    "-" + str(2**63),
    "1e308",
    "1e309",
    "1.5",
    "NaN",
    "Infinity",
    "-0",
    "0x10",
    "１２",  # fullwidth digits: int() reads them, a database does not
    "٣",
    " 7 ",
]
DATES = ["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "0000-00-00", "10000-01-01", "2026-1-1", "20260101"]

SPECIAL = MARKUP + FORMULAS + SQL + INVISIBLE + CONTROL + NUMBERS + DATES + ["", " ", "null", "true", "[]", "{}"]

#: One value of each kind, for the sweeps that run on every test run (the slow run sweeps them all).
ONE_OF_EACH = [
    '"><img src=x onerror=alert(1)>',
    '<img src="/etc/hostname"/>',
    "=1+1",
    "' OR '1'='1",
    "\u202eevil",
    "\ud800",
    str(2**63),
    str(10**30),
    "NaN",
    "9999-12-31",
    "2026-02-30",
    "x" * 5000,
]


def long_text(min_size: int = 150, max_size: int = 5000) -> st.SearchStrategy[str]:
    """Text past the usual limits (a column of 200, a filter of 150, a form field of 500)."""
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.sampled_from(["x", "é", "鳥", "<", "="]).map(lambda c: c * n)
    )


#: Any Unicode text a browser could send, surrogates included (they cannot be encoded; see ``as_query``).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def text() -> st.SearchStrategy[str]:
    """Hostile text: hand-picked values, those values combined, long text and arbitrary characters."""
    special = st.sampled_from(SPECIAL)
    return st.one_of(
        special,
        st.tuples(special, special).map("".join),
        long_text(),
        any_text,
    )


def short_text() -> st.SearchStrategy[str]:
    """Hostile text within the usual length limits: what is stored, when it is valid."""
    special = st.sampled_from(SPECIAL)
    return st.one_of(special, st.tuples(special, special).map("".join), any_text)


def raw_bytes() -> st.SearchStrategy[bytes]:
    """Bytes that are not (all) UTF-8: a lone continuation byte, an overlong NUL, a surrogate's encoding."""
    broken = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80", b"caf\xe9", b"\xe2\x82"])
    return st.one_of(broken, st.tuples(st.binary(max_size=8), broken, st.binary(max_size=8)).map(b"".join))


def query_value() -> st.SearchStrategy[bytes]:
    """A query-string value as the bytes that go on the wire (before percent-encoding)."""
    return st.one_of(text().map(utf8), raw_bytes())


def utf8(value: str) -> bytes:
    # A lone surrogate cannot be sent as UTF-8; a client that tries sends these bytes.
    return value.encode("utf-8", "surrogatepass")


def as_query(params: dict[str, bytes]) -> str:
    """A query string from raw values, each byte percent-encoded (so invalid UTF-8 reaches the server)."""
    return "&".join(f"{quote(name)}={quote_from_bytes(value, safe='')}" for name, value in params.items())


def json_scalar() -> st.SearchStrategy:
    """Any JSON value a schema did not ask for, at the edges: big and negative numbers, floats, null."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400, 1.5, -0.0, 1e308]),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        text(),
    )


def json_value() -> st.SearchStrategy:
    """A JSON value of any type, nested a little: lists for strings, objects for numbers."""
    return st.recursive(
        json_scalar(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )


#: JSON that json.dumps will not write: non-finite numbers, a depth no parser should follow, a huge array.
RAW_JSON_BODIES = [
    b'{"name": NaN}',
    b'{"name": Infinity, "kind": -Infinity}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[" + b"1," * 20_000 + b"1]",
    b'{"name": "\xff\xfe"}',
    b'{"name": "\\ud800"}',
    b'{"name": "a", "name": "b"}',
    b"\xef\xbb\xbf{}",
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"{",
    b"1" * 5000,
]


def json_body(value) -> bytes:
    return json.dumps(value).encode()
