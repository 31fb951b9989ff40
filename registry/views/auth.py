from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from registry.extensions import login_manager
from registry.forms.auth import CodeForm, LoginForm
from registry.i18n import _
from registry.models import User
from registry.models.base import utcnow
from registry.permissions import Actor, needs_second_factor
from registry.services import audit, second_factor, sessions, users
from registry.throttle import LoginRefused
from registry.views.helpers import require_actor
from registry.views.passwords import after_login

bp = Blueprint("auth", __name__)
#: A password checked, a code not yet: how long the code step waits, and how many tries it allows
#: before the password must be typed again.
PENDING_SECONDS = 300
PENDING_TRIES = 5
#: What a signed-in account that still has something to do first (``_account_gate``) may reach.
ALWAYS_OPEN = {"auth.logout", "auth.set_locale", "static"}


@login_manager.user_loader
def _load_user(user_key: str):
    user = users.load_session_user(user_key)
    if user is None:
        return None
    if sessions.resume(session.get("sid"), user) is None:
        return None
    return user


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and not urlsplit(target).scheme and target.startswith("/"):
        return target
    return url_for("main.home")


def sign_in(user: User, *, second_factor_checked: bool) -> None:
    """A fresh session (no fixation), known to the server so it can be ended."""
    session.clear()
    session["sid"] = sessions.start(
        user,
        second_factor=second_factor_checked,
        client_addr=request.remote_addr,
        user_agent=request.user_agent.string,
    )
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = users.authenticate(form.username.data, form.password.data, g.request_id, request.remote_addr)
        except LoginRefused as exc:  # throttled (429), or the throttle cannot count (503)
            form.password.errors.append(exc.message)
            return render_template("auth/login.html", form=form), exc.status, {"Retry-After": str(exc.retry_after)}
        if user is not None:
            target = _safe_next(request.args.get("next"))
            if user.totp_enrolled_at is not None:
                session.clear()
                session["pending"] = {"user": user.get_id(), "at": utcnow().timestamp(), "tries": 0, "next": target}
                return redirect(url_for(".code"))
            sign_in(user, second_factor_checked=False)
            return after_login(user) or redirect(target)
        form.password.errors.append(_("Unknown user name or wrong password."))
    return render_template("auth/login.html", form=form)


def _pending_user() -> User | None:
    pending = session.get("pending")
    if not isinstance(pending, dict) or utcnow().timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return users.load_session_user(str(pending.get("user", "")))


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    """The second step of a login: the authenticator's code, or a recovery code."""
    user = _pending_user()
    if user is None:
        session.pop("pending", None)
        flash(_("Log in again: the code step has expired."), "error")
        return redirect(url_for(".login"))
    form = CodeForm()
    if form.validate_on_submit():
        actor = Actor.for_user(user, g.request_id, request.remote_addr)
        try:
            accepted = second_factor.check(actor, form.code.data)
        except LoginRefused as exc:
            form.code.errors.append(exc.message)
            return render_template("auth/code.html", form=form), exc.status, {"Retry-After": str(exc.retry_after)}
        if accepted:
            target = session["pending"]["next"]
            sign_in(user, second_factor_checked=True)
            return after_login(user) or redirect(_safe_next(target))
        pending = session["pending"] | {"tries": session["pending"].get("tries", 0) + 1}
        if pending["tries"] >= PENDING_TRIES:
            session.pop("pending", None)
            flash(_("Too many wrong codes: log in again."), "error")
            return redirect(url_for(".login"))
        session["pending"] = pending
        form.code.errors.append(_("Wrong or already used code."))
    return render_template("auth/code.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    actor = require_actor()
    row = sessions.find(session.get("sid"))
    if row is not None:
        sessions.end(actor, row.id, sessions.EndReason.LOGOUT)
    else:
        audit.record_alone(actor, "auth.logout", "user", current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/locale/<code>")
def set_locale(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["locale"] = code
    else:
        flash(_("Unknown language."), "error")
    return redirect(_safe_next(request.form.get("next")))


@bp.before_app_request
def _account_gate():
    """What a signed-in account must do before anything else, in this order: choose its own password
    when an administrator chose it, then set up a second factor when its role needs one."""
    if request.path.startswith("/api/") or request.endpoint in ALWAYS_OPEN:
        return None  # the API authenticates by token; tokens of a reset account were revoked
    if not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        return None if request.endpoint == "passwords.change" else redirect(url_for("passwords.change"))
    if needs_second_factor(current_user.role) and current_user.totp_enrolled_at is None:
        page = "profile.second_factor_page"
        return None if request.endpoint == page else redirect(url_for(page))
    return None
