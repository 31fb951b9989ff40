from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from registry.forms import ConfirmForm
from registry.i18n import _, _l
from registry.services import tokens
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, require_actor

bp = Blueprint("profile", __name__, url_prefix="/profile")


class TokenForm(FlaskForm):
    name = StringField(_l("What the token is for"), validators=[DataRequired(), Length(max=100)])
    days = IntegerField(_l("Valid for (days)"), default=90, validators=[NumberRange(1, tokens.MAX_DAYS)])


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        try:
            _token, secret = tokens.create_token(require_actor(), current_user.id, form.name.data, form.days.data)
        except DomainError as exc:
            apply_errors(form, exc)
    return render_template(
        "profile.html", form=form, secret=secret, tokens=tokens.tokens_of(current_user.id), confirm=ConfirmForm()
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
