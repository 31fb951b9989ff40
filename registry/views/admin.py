from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry import deadlines
from registry.extensions import db
from registry.forms import ConfirmForm
from registry.forms.admin import DeadlineForm, EditUserForm, PasswordForm, SpeciesForm, UserForm
from registry.i18n import _
from registry.models import NationalCategory, Party, Species, User
from registry.services import admin as admin_service
from registry.services import reference, second_factor, sessions
from registry.services import users as service
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, form_problems, require_actor, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _parties():
    return [("", "-")] + [(str(p.id), p.name) for p in db.session.scalars(select(Party).order_by(Party.name))]


def _party_id(form) -> int | None:
    """The chosen party; blank (or spaces, which the Optional validator lets by unchecked) is none."""
    chosen = (form.party_id.data or "").strip()
    return int(chosen) if chosen else None


@bp.route("/users", methods=["GET", "POST"])
@requires("user.manage")
def users():
    form = UserForm()
    form.party_id.choices = _parties()
    if form.validate_on_submit():
        try:
            user = service.create_user(
                require_actor(),
                form.username.data,
                form.password.data,
                form.role.data,
                form.display_name.data,
                _party_id(form),
                must_change_password=True,
                office_code=form.office_code.data or None,  # the administrator knows it: the user chooses their own
            )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for(".users"))
    accounts = db.session.scalars(select(User).options(selectinload(User.party)).order_by(User.username)).all()
    return render_template("admin/users.html", form=form, accounts=accounts)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("user.manage")
def user(user_id: int):
    account = db.get_or_404(User, user_id)
    form = EditUserForm(obj=account if request.method == "GET" else None)
    form.party_id.choices = _parties()
    if request.method == "GET":
        form.party_id.data = str(account.party_id or "")
        form.office_code.data = account.office_code or ""
    if form.validate_on_submit():
        try:
            admin_service.update_user(
                require_actor(),
                account.id,
                form.role.data,
                _party_id(form),
                form.display_name.data,
                form.office_code.data or None,
            )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Account saved."), "success")
            return redirect(url_for(".user", user_id=account.id))
    return render_template(
        "admin/user.html",
        account=account,
        form=form,
        password=PasswordForm(),
        confirm=ConfirmForm(),
        open_sessions=sessions.open_sessions(account.id),
    )


@bp.post("/users/<int:user_id>/password")
@requires("user.manage")
def reset_password(user_id: int):
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            service.set_password(require_actor(), user_id, form.password.data)
            flash(
                _(
                    "Password reset. The user's sessions and API tokens have ended; "
                    "they must choose a new password at their next login."
                ),
                "success",
            )
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/second-factor/reset")
@requires("user.manage")
def reset_second_factor(user_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            second_factor.reset(require_actor(), user_id)
            flash(_("Second factor reset: the user sets up a new one at the next login."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/sessions/end")
@requires("user.manage")
def end_sessions(user_id: int):
    if ConfirmForm().validate_on_submit():
        count = sessions.end_all(require_actor(), user_id, sessions.EndReason.ADMINISTRATOR)
        flash(_("%(count)s sessions ended.", count=count), "success")
    return redirect(url_for(".user", user_id=user_id))


@bp.post("/users/<int:user_id>/<any(enable, disable):what>")
@requires("user.manage")
def enable(user_id: int, what: str):
    if ConfirmForm().validate_on_submit():
        try:
            service.set_enabled(require_actor(), user_id, what == "enable")
            flash(_("Account enabled.") if what == "enable" else _("Account disabled."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".user", user_id=user_id))


@bp.route("/species/<int:species_id>", methods=["GET", "POST"])
@requires("species.manage")
def species(species_id: int):
    sp = db.get_or_404(Species, species_id)
    form = SpeciesForm(obj=sp if request.method == "GET" else None)
    if request.method == "GET":
        form.populations.data = reference.format_populations(sp)
        form.listed_on.data = sp.listed_on.isoformat() if sp.listed_on else ""
    form.national_category_code.choices = [("", "-")] + [
        (c.code, f"{c.name_en} · {c.name_ko}") for c in db.session.scalars(select(NationalCategory))
    ]
    if form.validate_on_submit():
        changes = {k: v for k, v in form.data.items() if k != "csrf_token"}
        changes["national_category_code"] = changes["national_category_code"] or None
        try:
            admin_service.correct_species(require_actor(), sp.id, changes)
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Species corrected."), "success")
            return redirect(url_for(".species", species_id=sp.id))
    return render_template("admin/species.html", sp=sp, form=form)


@bp.route("/deadlines", methods=["GET", "POST"])
@requires("species.manage")
def deadline_rules():
    form = DeadlineForm()
    code = request.form.get("code", "")
    if request.method == "POST" and form.validate_on_submit():
        try:
            admin_service.set_deadline_days(require_actor(), code, form.days.data)
            flash(_("Deadline saved."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
        return redirect(url_for(".deadline_rules"))
    if request.method == "POST":  # each rule's form is one number without room for an error beside it
        flash(_("Not saved: %(problems)s", problems=form_problems(form)), "error")
    return render_template("admin/deadlines.html", rules=deadlines.RULES, days=admin_service.deadline_days(), form=form)
