"""Checks every request passes before a view reads it."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from flask import abort, request

from registry.i18n import _


def _utf8(raw: bytes) -> bool:
    # Percent-escapes decoded first: %FF is as much a wrong byte as a raw one.
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def refuse_bad_encoding():
    """400 for an address, query string or form that is not UTF-8.

    Werkzeug reads such bytes as U+FFFD and the view would then store "\ufffd" for what the client
    sent: a value that is not what anyone typed. A multipart form (uploads) is not checked here:
    its text fields are a kind and a file name, both checked where they are used.
    """
    path = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    body = request.get_data(cache=True) if request.mimetype == "application/x-www-form-urlencoded" else b""
    if not (_utf8(path) and _utf8(request.query_string) and _utf8(body)):
        abort(400, description=_("The request is not valid UTF-8 text."))


#: No body the API documents nests deeper than a few levels (a permit, its lines, an animal's marks).
MAX_JSON_DEPTH = 32


def refuse_unreadable_json():
    """400 for a JSON body Python's parser cannot read without failing in ways Flask does not catch.

    Deep nesting ends the parser in RecursionError, a number of more than 4,300 digits in a
    ValueError that is not a decoding error: both became 500s. A body parsed here is nested at most
    MAX_JSON_DEPTH deep, so that nothing after (the NUL check, the schemas) recurses further.
    """
    if not request.is_json:
        return
    body = request.get_data(cache=True)
    if not body.strip():
        return
    try:
        value = json.loads(body)
    except RecursionError:
        abort(400, description=_("The JSON body is nested too deeply."))
    except ValueError:  # not JSON at all, or a number past Python's limit: the same answer for both
        abort(400, description=_("The body is not valid JSON."))
    if _depth(value) > MAX_JSON_DEPTH:
        abort(400, description=_("The JSON body is nested too deeply."))


def _depth(value) -> int:
    """How deeply lists and objects nest in *value*, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest
