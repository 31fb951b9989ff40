"""Errors: HTML pages for people, RFC 9457 problem documents under /api/."""

import contextlib
import http

from flask import g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, DisconnectionError
from werkzeug.exceptions import HTTPException

from registry import database, signing
from registry.extensions import db
from registry.i18n import _
from registry.services.errors import Denial, DomainError, Unavailable

#: The one title of each status, for every problem document whatever raised it (werkzeug, webargs,
#: the services, the rate limiter). Titles stay English whatever the reader's language: clients match
#: on them. They are the reason phrases of RFC 9110, as RFC 9457 asks of "about:blank" problems
#: (Python 3.11 still has the older phrases of 413 and 422). The detail is for people and follows
#: Accept-Language.
TITLES: dict[int, str] = {
    **{s.value: s.phrase for s in http.HTTPStatus if s >= 400},
    413: "Content Too Large",
    422: "Unprocessable Content",
}


def title(status: int) -> str:
    """The title of every problem document with *status*."""
    return TITLES.get(status, "Error")


def _for_api() -> bool:
    return request.path.startswith("/api/")


def _stock(exc: HTTPException) -> bool:
    """True when *exc* carries werkzeug's own English description, not one given where it was raised."""
    return exc.description == type(exc).description


def _api_detail(exc: HTTPException) -> str | None:
    """The problem's detail in the reader's language."""
    data = getattr(exc, "data", None) or {}
    if data.get("message"):
        return data["message"]
    if exc.code == 422:
        return _("the request has invalid fields")
    if isinstance(exc, RateLimitExceeded):  # its description is the limit, in English
        return _("too many requests: wait a moment and try again")
    if not _stock(exc):
        return exc.description
    details: dict[int | None, str] = {
        400: _("the request is malformed"),
        401: _("a valid bearer token is required (Authorization: Bearer <token>)"),
        403: _("your role does not allow this"),
        404: _("not found, or outside your scope"),
        405: _("this method is not allowed here"),
        412: _("the resource has changed since you read it: its ETag no longer matches If-Match"),
        413: _("the request is too large"),
        415: _("this media type is not accepted"),
        428: _("this request needs an If-Match header with the resource's ETag"),
        429: _("too many requests: wait a moment and try again"),
    }
    return details.get(exc.code, exc.description)


def problem(status: int, detail: str | None = None, errors: dict | None = None, headers=None):
    body = {"type": "about:blank", "title": title(status), "status": status, "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages, prefix: str = "") -> dict[str, str]:
    """webargs' nested {location: {field: [messages]}} as {"field.sub": "message"}."""
    flat = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if prefix in ("", "json", "query", "headers") else f"{prefix}.{key}"
            flat.update(_flatten(value, name))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        flat[prefix] = " ".join(messages)
    elif isinstance(messages, list):
        for i, item in enumerate(messages):
            flat.update(_flatten(item, f"{prefix}.{i}"))
    else:
        flat[prefix] = str(messages)
    return flat


def audit_denial(capability: str | None, status: int) -> None:
    """The one audit entry of a refused request by a known user (web session or API token): who
    asked for what, where, about which object. Anonymous requests are not denials: the web sends
    them to the login page, the API answers 401.

    Written in a transaction of its own after the request's work was rolled back, so it stays.
    """
    from registry.services import audit
    from registry.views.helpers import current_actor

    actor = current_actor()
    if actor is None:
        return
    audit.record_alone(
        actor,
        "access.denied",
        "endpoint",
        request.endpoint,
        {
            "capability": capability or "",
            "method": request.method,
            "path": request.path[:200],
            "status": status,
            "object": {k: str(v)[:100] for k, v in (request.view_args or {}).items()},
        },
    )


def _rollback() -> None:
    with contextlib.suppress(DBAPIError, DisconnectionError):  # a lost connection: the pool replaces it
        db.session.rollback()


def _maybe_saved() -> bool:
    """Whether a change of this request may have been saved: it asked for one (not a GET) and a
    COMMIT went out since it started. "Nothing was saved" is said only when it is true; a session's
    own bookkeeping commit makes this err on the side of "check first"."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    return database.commits_sent() > g.get("commits_at_start", database.commits_sent())


def register(app):
    def page(status: int, title: str, message: str | None = None):
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # registry.views.helpers.deny, any other 403, and a 404 about a route's object (get_or_404):
        # not a URL that names no route, nor a missing static file.
        named = exc.code == 404 and request.url_rule is not None and request.endpoint != "static"
        if exc.code == 403 or hasattr(exc, "capability") or named:
            audit_denial(getattr(exc, "capability", None), exc.code or 403)
        if not _for_api():
            if exc.code == 403:
                return page(403, _("Not allowed"), _("Your role does not allow this."))
            if exc.code == 404:
                return page(404, _("Not found"))
            if exc.code == 400:
                if isinstance(exc, CSRFError):
                    return page(
                        400,
                        _("Bad request"),
                        _("The form has expired or did not come from this site. Reload the page and try again."),
                    )
                return page(
                    400, _("Bad request"), _("The request could not be understood.") if _stock(exc) else exc.description
                )
            if exc.code == 405:
                return page(405, _("Method not allowed"))
            if exc.code == 413:
                return page(413, _("Too large"), _("The file or form is larger than the registry accepts."))
            if exc.code == 429:
                return page(429, _("Too many requests"), _("Wait a minute, then try again."))
            return page(exc.code or 500, exc.name)
        data = getattr(exc, "data", None) or {}
        errors = _flatten(data["messages"]) if "messages" in data else None
        headers = dict(data.get("headers") or {})
        if exc.code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if exc.code == 304:
            return exc.get_response()
        return problem(exc.code or 500, _api_detail(exc), errors, headers)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if isinstance(exc, Denial):
            audit_denial(exc.capability, exc.status)
        if isinstance(exc, Unavailable):
            return _unavailable(exc)
        if _for_api():
            return problem(exc.status, exc.message, exc.fields or None)
        return page(exc.status, _("Refused"), exc.message)

    def _unavailable(exc: Unavailable):
        """503 with Retry-After: the database was busy or out of reach (a write transaction said
        which, and whether its COMMIT had gone out)."""
        headers = {"Retry-After": str(exc.retry_after)}
        if _for_api():
            return problem(503, exc.message, headers=headers)
        body, status = page(503, _("Not available"), exc.message)
        return body, status, headers

    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    def _database(exc):
        """A database fault outside a write transaction (reading a page, checking a token): 503
        when the database was busy or out of reach, a 500 for anything else."""
        from registry.services.context import unavailable

        found = database.fault(exc)
        _rollback()
        if found is None:
            raise exc
        app.logger.warning("database %s: %s", found.value, exc)
        return _unavailable(unavailable(found, _maybe_saved()))

    @app.errorhandler(signing.KeyMissing)
    def _no_signing_key(exc: signing.KeyMissing):
        # Every entry is signed as it is written: without the key nothing can be recorded. The
        # operator's fix (the key's path, `registry audit keygen`) goes to the log, not to the user.
        db.session.rollback()
        app.logger.error("audit signing key unavailable: %s", exc)
        message = _("The registry cannot sign its record just now, so nothing was saved. Try again later.")
        if _for_api():
            return problem(503, message)
        return page(503, _("Not available"), message)

    @app.errorhandler(500)
    def _server_error(exc):
        _rollback()
        if _maybe_saved():
            if _for_api():
                return problem(500, _("the change may have been saved before the error; check before retrying"))
            return page(
                500,
                _("Something went wrong"),
                _("Your change may have been saved before the error. Check before trying again."),
            )
        if _for_api():
            return problem(500, _("nothing was saved; the error has been logged"))
        return page(500, _("Something went wrong"), _("Nothing was saved. The error has been logged."))
