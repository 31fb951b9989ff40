"""Users change their own password; an account whose password an administrator chose does nothing
else until its user has chosen one."""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import login_required, login_user
from werkzeug.wrappers import Response

from registry.forms.passwords import ChangePasswordForm
from registry.i18n import _
from registry.passwords import MIN_LENGTH
from registry.services import users
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, require_actor

bp = Blueprint("passwords", __name__)


@bp.route("/profile/password", methods=["GET", "POST"])
@login_required
def change():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = users.change_password(
                require_actor(), form.current.data, form.new.data, keep_session=session.get("sid")
            )
        except DomainError as exc:
            apply_errors(form, exc)
            return render_template("auth/change_password.html", form=form, min_length=MIN_LENGTH), exc.status
        # Every other session ended with the old epoch; this one carries on under the new one.
        login_user(user)
        flash(_("Password changed. You were signed out everywhere else."), "success")
        return redirect(url_for("profile.index"))
    return render_template("auth/change_password.html", form=form, min_length=MIN_LENGTH)


def after_login(user) -> Response | None:
    """What a fresh login says before going on: attempts on the account since the previous login,
    and, when an administrator chose the password, the page to choose one's own (else None)."""
    notice = users.login_notice(user.id)
    if notice is not None:
        text = _(
            "Failed attempts to log in to your account since your last login: %(count)s.", count=notice.failed_attempts
        )
        if notice.locked:
            text += " " + _("The account was locked for a while after too many of them.")
        flash(text, "error")
    if user.must_change_password:
        flash(_("Your password was set by an administrator. Choose your own before you go on."), "error")
        return redirect(url_for("passwords.change"))
    return None
