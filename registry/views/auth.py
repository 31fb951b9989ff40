from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from registry.extensions import login_manager
from registry.forms.auth import LoginForm
from registry.i18n import _
from registry.services import audit, users
from registry.throttle import LoginRefused
from registry.views.helpers import require_actor
from registry.views.passwords import after_login

bp = Blueprint("auth", __name__)
login_manager.user_loader(users.load_session_user)


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and not urlsplit(target).scheme and target.startswith("/"):
        return target
    return url_for("main.home")


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
            session.clear()  # a fresh session on login: no fixation
            login_user(user)
            return after_login(user) or redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("Unknown user name or wrong password."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    audit.record_alone(require_actor(), "auth.logout", "user", current_user.id)
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
