"""What the API's endpoints share: cursor pages, service errors as problems, idempotent POSTs."""

from __future__ import annotations

from copy import deepcopy
from functools import wraps

from flask import Response, abort, g, make_response, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, is_json_request

from registry.extensions import db
from registry.i18n import _
from registry.permissions import READ_CAPABILITIES, Actor, has_capability, needs_second_factor
from registry.services import idempotency, tokens
from registry.services.context import write_transaction
from registry.services.errors import ValidationFailed
from registry.views.helpers import deny, require_actor

SAFE = {"GET", "HEAD", "OPTIONS"}
#: The mark an ``idempotent`` operation carries in its OpenAPI documentation until it is rendered.
IDEMPOTENT = "x-idempotent"


def authenticate() -> None:
    """Every API request carries a bearer token; sessions and cookies are not used here."""
    header = request.headers.get("Authorization", "")
    scheme, _space, secret = header.partition(" ")
    token = tokens.valid_token(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        abort(401, description=_("a valid bearer token is required (Authorization: Bearer <token>)"))
    g.actor = Actor.for_user(token.user, g.get("request_id"), request.remote_addr, scope=token.capabilities)
    if needs_second_factor(token.user.role) and token.user.totp_enrolled_at is None:
        deny("second_factor.enrol")  # a staff account reaches nothing before it has set one up
    if token.capabilities is not None and token.capabilities <= READ_CAPABILITIES and request.method not in SAFE:
        deny("token.read_only")  # a read-only token changes nothing, whatever an endpoint checks


class JsonBodyParser(FlaskParser):
    """Request bodies are JSON: a body sent as another media type is refused (415), not ignored.

    webargs alone would read such a body as absent, so that an action could run without its fields.
    A request with no body at all still reads as an empty object.
    """

    def _raw_load_json(self, req):
        if _body_sent(req) and not is_json_request(req):
            abort(415)
        return super()._raw_load_json(req)


def _body_sent(req) -> bool:
    return bool(req.content_length or req.get_data(cache=True) or req.form or req.files)  # forms are parsed early


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


def api_blueprint(name: str, description: str) -> Blueprint:
    """A blueprint of the API: authenticated by bearer token before every view."""
    blp = ApiBlueprint(name, __name__, description=description)
    blp.before_request(authenticate)
    return blp


def require(*capabilities: str) -> None:
    """403 (audited) unless the caller's role has one of *capabilities*."""
    actor = require_actor()
    if not any(has_capability(actor, c) for c in capabilities):
        deny(" or ".join(capabilities))


def access_first(*capabilities: str, model=None, can_see=None, key: str | None = None):
    """Refuse before the body is read: 404 for an object of *model* (the URL's *key*) outside the
    caller's scope, then 403 without any of *capabilities*, both audited. A caller who may not act
    learns nothing from the body's validation (422). Goes above ``idempotent`` and ``arguments``."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if model is not None and key is not None:
                one(model, kwargs[key], can_see)  # scope first, as the web does: 404 for another's
            require(*capabilities)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def json_body() -> dict:
    """The request's JSON object, for a view that loads its body itself (a oneOf of schemas), read
    as the other endpoints read theirs: 415 for another media type, no body at all is {}, and 422
    for anything but an object."""
    if not _body_sent(request):
        return {}
    if not is_json_request(request):
        abort(415)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed(_("the body must be a JSON object"), {"_schema": _("a JSON object")})
    return body


def page(query, key, args: dict) -> dict:
    """Keyset pagination, newest first: page 1,000 costs what page 1 costs."""
    if args.get("cursor") is not None:
        query = query.where(key < args["cursor"])
    rows = db.session.scalars(query.order_by(key.desc()).limit(args["limit"] + 1)).all()
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    last = getattr(rows[-1], key.key) if rows else None
    return {"items": rows, "next_cursor": last if more else None}


class _Refused(Exception):
    """A view answered an error without raising: its transaction, key included, is rolled back."""

    def __init__(self, response: Response):
        self.response = response


def idempotent(view):
    """Replay the first answer to a POST retried with the same Idempotency-Key.

    The key, the view's change (its service joins this transaction) and the answer to replay are
    committed together (registry.services.idempotency): a crash or an outage leaves all or none, so
    a retry gets the stored answer or runs afresh. A concurrent twin waits for the first, then
    replays it. A key reused for a different request is refused; a refused request (4xx) keeps no key.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 200:
            raise ValidationFailed(_("bad Idempotency-Key"), {"Idempotency-Key": _("1 to 200 characters")})
        owner = require_actor()  # a user, or a partner on the exchange: each has keys of its own
        digest = idempotency.fingerprint(request.method, request.path, request.get_data())
        try:
            with write_transaction() as session:
                seen = idempotency.claim(session, owner, key, digest)
                if seen is not None:
                    replay = Response(seen.body, status=seen.status, mimetype="application/json")
                    replay.headers["Idempotent-Replayed"] = "true"
                    return replay
                response = make_response(view(*args, **kwargs))
                if response.status_code >= 400:
                    raise _Refused(response)
                idempotency.answer(session, owner, key, response.status_code, response.get_data(as_text=True))
        except _Refused as refused:
            return refused.response
        return response

    # Marks the operation for the OpenAPI document, which declares the header there
    # (registry.views.api.IdempotencyKeyHeader): a list of parameters here would replace the others.
    apidoc = deepcopy(getattr(view, "_apidoc", {}))  # flask-smorest's, copied: the view's stays as it is
    apidoc.setdefault("manual_doc", {})[IDEMPOTENT] = True
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper


def one(model, object_id: int, can_see):
    """The object in the caller's scope, or 404 (audited)."""
    from registry.views.helpers import load_visible

    return load_visible(model, object_id, can_see)
