from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from registry.extensions import db
from registry.forms import options
from registry.i18n import _, _l
from registry.labels import choices
from registry.machines import FACILITY
from registry.models import ATTACHMENT_KINDS, INSPECTION_RESULTS, Facility, Party, Species
from registry.permissions import can_see_facility, has_capability, visible_facilities
from registry.services import attachments
from registry.services import facilities as service
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, form_problems, load_visible, require_actor, requires

bp = Blueprint("facilities", __name__, url_prefix="/facilities")
ACTIONS = ("resubmit", "request_changes", "approve", "refuse", "close")


class AllowanceEntry(FlaskForm):
    class Meta:
        csrf = False

    species_id = SelectField(_l("Species"), coerce=str, validators=[Optional()])
    capacity = StringField(_l("Capacity"), validators=[Optional(), Length(max=6)])


class ApplyForm(FlaskForm):
    name = StringField(_l("Name of the facility"), validators=[DataRequired(), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[DataRequired(), Length(max=2000)])
    holder_party_id = SelectField(
        _l("Holder (officers applying on someone's behalf)"), coerce=str, validators=[Optional()]
    )
    allowances = FieldList(FormField(AllowanceEntry), min_entries=4)


class CapacityForm(FlaskForm):
    allowances = FieldList(FormField(AllowanceEntry), min_entries=0)


class InspectionForm(FlaskForm):
    inspected_on = DateField(_l("Inspected on"), validators=[Optional()])
    result = SelectField(_l("Result"), choices=options(choices("inspection", INSPECTION_RESULTS)))
    findings = TextAreaField(_l("Findings"), validators=[Optional(), Length(max=5000)])
    next_due = DateField(_l("Next inspection due"), validators=[Optional()])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason or note"), validators=[Optional(), Length(max=2000)])


def _species_choices(form):
    species = [("", "-")] + [
        (str(s.id), s.label()) for s in db.session.scalars(select(Species).order_by(Species.scientific_name))
    ]
    for entry in form.allowances:
        entry.form.species_id.choices = species


def _allowances(form) -> dict:
    return {
        e.form.species_id.data: e.form.capacity.data
        for e in form.allowances
        if e.form.species_id.data and (e.form.capacity.data or "").strip()
    }


@bp.get("/")
@requires("facility.apply", "facility.read_all")
def index():
    rows = db.session.scalars(visible_facilities(require_actor(), select(Facility)).order_by(Facility.id.desc())).all()
    return render_template("facilities/index.html", rows=rows, machine=FACILITY)


@bp.route("/apply", methods=["GET", "POST"])
@requires("facility.apply")
def apply():
    form = ApplyForm()
    _species_choices(form)
    form.holder_party_id.choices = (
        [("", "-")]
        + [
            (str(p.id), p.name)
            for p in db.session.scalars(select(Party).where(Party.country == "KR").order_by(Party.name))
        ]
        if has_capability(require_actor(), "party.read_all")
        else [("", "-")]
    )
    if form.validate_on_submit():
        try:
            f = service.apply(
                require_actor(),
                {
                    "name": form.name.data,
                    "address": form.address.data,
                    "holder_party_id": int(form.holder_party_id.data or 0) or None,
                    "allowances": _allowances(form),
                },
            )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Application sent to the regional environmental office."), "success")
            return redirect(url_for(".show", facility_id=f.id))
    return render_template("facilities/apply.html", form=form)


@bp.get("/<int:facility_id>")
@requires("facility.apply", "facility.read_all")
def show(facility_id: int):
    f = load_visible(Facility, facility_id, can_see_facility)
    actor = require_actor()
    actions = service.available_actions(actor, f, ACTIONS)
    capacity = CapacityForm()
    for a in f.allowances + [None, None]:
        capacity.allowances.append_entry({"species_id": str(a.species_id), "capacity": str(a.capacity)} if a else {})
    _species_choices(capacity)
    return render_template(
        "facilities/show.html",
        f=f,
        actions=actions,
        machine=FACILITY,
        reason=ReasonForm(),
        capacity=capacity,
        inspection=InspectionForm(),
        kept=service.kept(f.id),
        manage=has_capability(actor, "facility.manage") and f.status == "registered",
        files=attachments.of("facility", f.id),
        kinds=ATTACHMENT_KINDS,
        can_attach=f.status not in FACILITY.terminal,
    )


@bp.post("/<int:facility_id>/<action>")
@requires("facility.apply", "facility.manage")
def act(facility_id: int, action: str):
    load_visible(Facility, facility_id, can_see_facility)
    forms: dict[str, type[FlaskForm]] = {"change_capacity": CapacityForm, "inspect": InspectionForm}
    form = forms.get(action, ReasonForm)()
    if action == "change_capacity":
        _species_choices(form)
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k not in ("csrf_token", "allowances")}
        if action == "change_capacity":
            data["allowances"] = _allowances(form)
        try:
            service.fire(require_actor(), facility_id, action, data)
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("%(action)s: done.", action=_(FACILITY.transitions[action].label)), "success")
    else:
        flash(form_problems(form), "error")
    return redirect(url_for(".show", facility_id=facility_id))
