"""Wildlife Registry: the application factory."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask, abort, g, request, session
from flask_babel import format_date
from flask_login import current_user

from registry import (
    database,  # its engine event hooks, and the engine options
    i18n,
)
from registry.extensions import babel, csrf, db, limiter, login_manager, migrate
from registry.i18n import reader_locale

ROOT = Path(__file__).resolve().parent.parent


def _select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():  # the CLI and cron jobs speak English
        return "en"
    chosen = session.get("locale")
    if isinstance(chosen, str) and chosen in current_app.config["LANGUAGES"]:
        return chosen
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


def create_app(config: type | dict | None = None, *, check_start: bool = True) -> Flask:
    """Build the app. It never creates tables or runs migrations: that is ``registry db upgrade``.

    A production app with an unsafe setting is refused here (registry.startup), unless
    *check_start* is false: the ``registry`` command checks what each of its commands needs.
    """
    import config as settings

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.INSTANCE),
    )
    if config is None:
        try:
            app.config.from_object(settings.from_environment())
        except RuntimeError as exc:  # a misspelt REGISTRY_ENV: one line, not a traceback
            from registry import startup

            startup.refuse([str(exc)])
    elif isinstance(config, dict):
        app.config.from_object(settings.Config)
        app.config.update(config)
    else:
        app.config.from_object(config)
    if check_start:
        from registry import startup

        startup.guard(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    # The replica's options first: from the configured ones, not the primary's pool sizes.
    app.config["SQLALCHEMY_BINDS"] = database.replica_binds(app.config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app.config)
    db.init_app(app)
    app.teardown_appcontext(database.close_reader)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    i18n.install(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    from registry import models  # noqa: F401  (every table registered before Alembic looks)
    from registry.views import register_blueprints

    register_blueprints(app)
    from registry.views.api import init_api

    init_api(app)

    @app.before_request
    def _request_id():
        # A proxy's id ties the log to the proxy's own records; a client's would be its to forge.
        given = request.headers.get("X-Request-Id", "") if app.config["TRUSTED_PROXIES"] else ""
        g.request_id = given[:64] or uuid.uuid4().hex
        # An outage later in the request is told apart: did one of its changes reach COMMIT?
        g.commits_at_start = database.commits_sent()

    from registry.request_checks import refuse_bad_encoding, refuse_unreadable_json

    app.before_request(refuse_bad_encoding)
    app.before_request(refuse_unreadable_json)

    @app.before_request
    def _refuse_nul():
        # PostgreSQL cannot store NUL in text, and no legitimate input contains one.
        values = [request.path, *request.args.values(), *request.form.values()]
        body = request.get_data(cache=True)
        # In JSON a NUL is written \u0000: read the strings it holds, not the text (where the
        # six characters \\u0000, an escaped backslash, are harmless).
        parsed = request.get_json(silent=True, cache=True) if request.is_json else None
        if any("\x00" in v for v in values) or b"\x00" in body or _holds_nul(parsed):
            abort(400, description="NUL characters are not accepted")

    from registry import headers

    headers.init_app(app)

    @app.template_filter("day")
    def _day(value):
        """A date in the reader's language (2026. 11. 21. in Korean, Nov 21, 2026 in English)."""
        return format_date(value, "medium") if value else ""

    @app.template_filter("label")
    def _label(value, kind: str):
        """A coded value in the reader's language: {{ animal.sex|label('sex') }}."""
        from registry.labels import label

        text = label(value, kind)
        return i18n.page_gettext(text) if text else ""

    @app.template_filter("state")
    def _state(value, machine: str):
        """A lifecycle state in the reader's language: {{ animal.state|state('animal') }}."""
        from registry.machines import MACHINES

        return MACHINES[machine].label(value) if value else ""

    @app.context_processor
    def _template_helpers():
        from registry.permissions import has_capability
        from registry.views.helpers import current_actor

        def can(capability: str) -> bool:
            return current_user.is_authenticated and has_capability(current_actor(), capability)

        from registry.permissions import ROLE_LABELS

        return {"can": can, "locale": reader_locale(), "role_labels": ROLE_LABELS}

    from registry.cli import register_commands

    register_commands(app)
    return app


def _holds_nul(value) -> bool:
    """Whether a parsed JSON value holds a NUL character in any string, key or value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False
