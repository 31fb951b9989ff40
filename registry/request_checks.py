"""Checks every request passes before a view reads it."""

from __future__ import annotations

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
