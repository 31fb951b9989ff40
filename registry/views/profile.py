from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from registry import totp
from registry.forms import ConfirmForm, options
from registry.forms.auth import CodeForm
from registry.i18n import _, _l
from registry.permissions import READ_CAPABILITIES
from registry.services import second_factor, sessions, tokens, users
from registry.services.context import write_transaction
from registry.services.errors import DomainError
from registry.throttle import LoginRefused
from registry.views.helpers import apply_errors, require_actor

bp = Blueprint("profile", __name__, url_prefix="/profile")


class TokenForm(FlaskForm):
    name = StringField(_l("What the token is for"), validators=[DataRequired(), Length(max=100)])
    days = IntegerField(_l("Valid for (days)"), default=90, validators=[NumberRange(1, tokens.MAX_DAYS)])
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    access = RadioField(
        _l("What it may do"),
        choices=options([("read", _l("Read only")), ("full", _l("Everything my role allows"))]),
        default="read",
    )


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        scope = READ_CAPABILITIES if form.access.data == "read" else None
        try:
            # A token is a new credential: the password proves the owner is at the keyboard.
            users.prove_password(require_actor(), form.password.data, refused=_("the token was not created"))
            _token, secret = tokens.create_token(
                require_actor(), current_user.id, form.name.data, form.days.data, scope=scope
            )
        except LoginRefused as exc:
            form.password.errors.append(exc.message)
        except DomainError as exc:
            apply_errors(form, exc)
    current = sessions.find(session.get("sid"))
    return render_template(
        "profile.html",
        form=form,
        secret=secret,
        tokens=tokens.tokens_of(current_user.id),
        sessions=sessions.open_sessions(current_user.id),
        current_session=current.id if current else None,
        recovery_left=second_factor.recovery_codes_left(current_user.id) if current_user.totp_enrolled_at else None,
        confirm=ConfirmForm(),
        code_form=CodeForm(),
        read_capabilities=READ_CAPABILITIES,
    )


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            tokens.revoke_token(require_actor(), token_id)
            flash(_("Token revoked."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".index"))


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            sessions.end(require_actor(), session_id)
            flash(_("Session ended."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".index"))


@bp.post("/end-all")
@login_required
def end_all():
    """Sign out everywhere, this browser included, and revoke every API token."""
    if ConfirmForm().validate_on_submit():
        actor = require_actor()
        with write_transaction():  # both or neither
            sessions.end_all(actor, current_user.id, sessions.EndReason.ENDED)
            tokens.revoke_all(actor, current_user.id)
        logout_user()
        session.clear()
        flash(_("Every session has ended and every token is revoked."), "success")
        return redirect(url_for("auth.login"))
    return redirect(url_for(".index"))


@bp.route("/second-factor", methods=["GET", "POST"])
@login_required
def second_factor_page():
    """Set up the authenticator app: scan, type the code it shows, keep the recovery codes."""
    if current_user.totp_enrolled_at is not None:
        return redirect(url_for(".index"))
    form = CodeForm()
    # The secret waits in the cookie until confirmed, sealed: a copy of the cookie must not yield it.
    key = current_app.config["SECRET_KEY"]
    sealed = session.get("enrolling")
    secret = totp.unseal(sealed, key) if isinstance(sealed, str) and form.is_submitted() else None
    if secret is None:
        secret = totp.new_secret()
        session["enrolling"] = totp.seal(secret, key)
    if form.validate_on_submit():
        try:
            codes = second_factor.enrol(require_actor(), secret, form.code.data, keep_session=session.get("sid"))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            session.pop("enrolling", None)
            sessions.mark_second_factor(session.get("sid"))
            return render_template("auth/recovery_codes.html", codes=codes)
    uri = totp.provisioning_uri(secret, current_user.username)
    return render_template("auth/enrol.html", form=form, secret=secret, qr=totp.qr_svg(uri))


@bp.post("/recovery-codes")
@login_required
def recovery_codes():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.new_recovery_codes(require_actor(), form.code.data)
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            return render_template("auth/recovery_codes.html", codes=codes)
    return redirect(url_for(".index"))
