"""The security headers of every answer, set in this one place (docs/security.md, "Headers and production start").

A view may set a stricter header of its own (an uploaded file is served with ``default-src 'none'``):
what it set is kept.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

#: No inline script or style anywhere (templates load static/*.js and app.css), no plugins, no
#: <base> rewriting, forms post only here, and no one may frame the registry (clickjacking).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: The registry uses none of these browser features; a page injected into it gets none either.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

FIXED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
    for name, value in FIXED.items():
        response.headers.setdefault(name, value)
    hsts = current_app.config.get("STRICT_TRANSPORT_SECURITY")
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", hsts)
    if request.endpoint != "static" and "no-store" not in response.headers.get("Cache-Control", ""):
        # Every page but the static files is the user's own, a PDF, an API answer, or carries a
        # CSRF token: no browser or proxy cache may keep it (a shared computer, a later user).
        response.headers["Cache-Control"] = "no-store"
    return response
