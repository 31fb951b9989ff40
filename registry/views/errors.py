"""Errors: HTML pages for people, RFC 9457 problem documents under /api/."""
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from registry.extensions import db
from registry.services.errors import DomainError

TITLES = {403: "Not allowed", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
          422: "Unprocessable content"}


def _for_api() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str | None = None, errors: dict | None = None, headers=None):
    body = {"type": "about:blank", "title": title, "status": status, "instance": request.path}
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


def register(app):
    def page(status: int, title: str, message: str | None = None):
        return render_template("error.html", status=status, title=title, message=message), status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not _for_api():
            if exc.code == 403:
                return page(403, _("Not allowed"), _("Your role does not allow this."))
            if exc.code == 404:
                return page(404, _("Not found"))
            if exc.code == 400:
                return page(400, _("Bad request"), exc.description)
            return page(exc.code or 500, exc.name)
        data = getattr(exc, "data", None) or {}
        errors = _flatten(data["messages"]) if "messages" in data else None
        headers = dict(data.get("headers") or {})
        if exc.code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if exc.code == 304:
            return exc.get_response()
        detail = data.get("message") or (exc.description if exc.code != 422 else "the request has invalid fields")
        return problem(exc.code or 500, exc.name, detail, errors, headers)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if _for_api():
            return problem(exc.status, TITLES.get(exc.status, "Refused"), exc.message, exc.fields or None)
        return page(exc.status, _("Refused"), exc.message)

    @app.errorhandler(500)
    def _server_error(exc):
        db.session.rollback()
        if _for_api():
            return problem(500, "Internal Server Error", "nothing was saved; the error has been logged")
        return page(500, _("Something went wrong"), _("Nothing was saved. The error has been logged."))
