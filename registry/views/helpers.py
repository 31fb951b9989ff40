"""What every view needs: the acting user, capability checks that deny correctly, and scoped loading."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import NoReturn

from flask import abort, flash, g, request
from flask_login import current_user, login_required
from werkzeug.exceptions import Forbidden, HTTPException, NotFound

from registry.extensions import db
from registry.permissions import Actor, has_capability
from registry.services.errors import Denial, DomainError


def current_actor() -> Actor | None:
    """The acting user: from the API token (set by the API's authentication) or the login session."""
    if "actor" in g:
        return g.actor
    if not current_user.is_authenticated:
        return None
    if "actor" not in g:
        g.actor = Actor.for_user(current_user, g.get("request_id"), request.remote_addr)
    return g.actor


def require_actor() -> Actor:
    """The acting user of a view behind login; 401 if the request is anonymous after all."""
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


def deny(capability: str, status: int = 403) -> NoReturn:
    """Refuse with *status* (403, or 404 where even existence is not to be told); the error handler
    audits it (registry.views.errors), as it does the services' refusals."""
    exc: HTTPException = Forbidden() if status == 403 else NotFound()
    exc.capability = capability  # type: ignore[attr-defined]
    raise exc


def requires(*capabilities: str) -> Callable:
    """Login required, then any one of the capabilities; an unknown name raises at import time."""
    for capability in capabilities:
        has_capability(None, capability)  # validates the name

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if not any(has_capability(actor, c) for c in capabilities):
                deny(" or ".join(capabilities))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def load_visible(model, object_id: int, can_see: Callable, options: tuple = ()):
    """The object, or 404 when it does not exist or is outside the actor's scope (indistinguishable).

    *options* are loader options (``joinedload``...) for what the page will read of it."""
    obj = db.session.get(model, object_id, options=options)
    if obj is None or not can_see(current_actor(), obj):
        deny(f"{model.__tablename__}.scope", 404)
    return obj


def apply_errors(form, exc: DomainError) -> None:
    """Show a service's refusal next to the fields it names, and as a message otherwise.

    A denial is not a form's problem: it goes on to the error handler (403/404, audited)."""
    if isinstance(exc, Denial):
        raise exc
    unplaced = []
    for name, message in exc.fields.items():
        field = getattr(form, name.split(".")[0], None) if form is not None else None
        if field is not None and hasattr(field, "errors") and "." not in name:
            field.errors = list(field.errors) + [message]
        elif message != exc.message:
            unplaced.append(f"{name}: {message}")
    flash(" ".join([exc.message] + unplaced), "error")


def form_data(form) -> dict:
    """What a submitted form holds, for a command schema to load (the CSRF token left out)."""
    return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}


def form_problems(form) -> str:
    """A form's validation errors for a message: each field named by its label, in the reader's language."""

    def strings(messages):
        if isinstance(messages, str):
            yield messages
        elif isinstance(messages, dict):
            for value in messages.values():
                yield from strings(value)
        elif isinstance(messages, (list, tuple)):
            for value in messages:
                yield from strings(value)

    return "; ".join(
        f"{form[name].label.text if name in form else name}: {', '.join(strings(messages))}"
        for name, messages in form.errors.items()
    )


def paginate(query) -> dict:
    """One page of *query* (``?page=N``), as template arguments: rows, page and has_next."""
    from flask import current_app

    try:
        # Past a million pages there is nothing to show, and the offset would overflow the database's integers.
        page = min(max(1, int(request.args.get("page", 1))), 10**6)
    except ValueError:
        page = 1
    size = current_app.config["PAGE_SIZE"]
    rows = db.session.scalars(query.limit(size + 1).offset((page - 1) * size)).all()
    return {"rows": rows[:size], "page": page, "has_next": len(rows) > size}
