from flask_babel import gettext as _
from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select

from registry.extensions import db
from registry.forms.admin import UserForm
from registry.models import Party, User
from registry.services import users as service
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, current_actor, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@requires("user.manage")
def users():
    form = UserForm()
    form.party_id.choices = [("", "-")] + [(str(p.id), p.name) for p in
                                           db.session.scalars(select(Party).order_by(Party.name))]
    if form.validate_on_submit():
        try:
            user = service.create_user(current_actor(), form.username.data, form.password.data, form.role.data,
                                       form.display_name.data, int(form.party_id.data) if form.party_id.data else None)
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for(".users"))
    accounts = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", form=form, accounts=accounts)
