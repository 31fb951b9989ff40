from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import facilities as commands
from registry.commands import load
from registry.extensions import db
from registry.forms.facilities import ApplyForm, CapacityForm, InspectionForm, ReasonForm
from registry.i18n import _
from registry.machines import FACILITY
from registry.models import ATTACHMENT_KINDS, Facility, FacilitySpecies, Party, Species
from registry.permissions import can_see_facility, has_capability, visible_facilities
from registry.services import attachments
from registry.services import facilities as service
from registry.services.errors import DomainError
from registry.views.helpers import (
    apply_errors,
    deny,
    form_data,
    form_problems,
    load_visible,
    paginate,
    require_actor,
    requires,
)

bp = Blueprint("facilities", __name__, url_prefix="/facilities")
#: Actions with a form of their own; every other action is a button with a reason.
FORMS: dict[str, type[FlaskForm]] = {
    commands.ChangeCapacity.EVENT: CapacityForm,
    commands.Inspect.EVENT: InspectionForm,
}
#: Actions whose button asks for the reason (their command requires one).
WITH_REASON = frozenset(
    event for event, schema in commands.ACTION_SCHEMAS.items() if schema._declared_fields["reason"].required
)


def _species_choices(form):
    species = [("", "-")] + [
        (str(s.id), s.label()) for s in db.session.scalars(select(Species).order_by(Species.scientific_name))
    ]
    for entry in form.allowances:
        entry.form.species_id.choices = species


@bp.get("/")
@requires("facility.apply", "facility.read_all")
def index():
    query = visible_facilities(require_actor(), select(Facility)).options(selectinload(Facility.holder))
    return render_template("facilities/index.html", **paginate(query.order_by(Facility.id.desc())), machine=FACILITY)


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
            f = service.apply(require_actor(), load(commands.FacilityApplicationSchema, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Application sent to the regional environmental office."), "success")
            return redirect(url_for(".show", facility_id=f.id))
    return render_template("facilities/apply.html", form=form)


@bp.get("/<int:facility_id>")
@requires("facility.apply", "facility.read_all")
def show(facility_id: int):
    shown = (
        selectinload(Facility.holder),
        selectinload(Facility.allowances).selectinload(FacilitySpecies.species),
        selectinload(Facility.inspections),
    )
    f = load_visible(Facility, facility_id, can_see_facility, options=shown)
    actor = require_actor()
    actions = service.open_events(actor, f)
    seen = {"version": str(f.version)}
    capacity = CapacityForm(data=seen)
    for a in f.allowances + [None, None]:
        capacity.allowances.append_entry({"species_id": str(a.species_id), "capacity": str(a.capacity)} if a else {})
    _species_choices(capacity)
    return render_template(
        "facilities/show.html",
        f=f,
        actions=actions,
        opened={t.event for t in actions},
        own_forms=FORMS,
        with_reason=WITH_REASON,
        machine=FACILITY,
        reason=ReasonForm(data=seen),
        capacity=capacity,
        inspection=InspectionForm(data=seen),
        kept=service.kept(f.id),
        files=attachments.of("facility", f.id),
        kinds=ATTACHMENT_KINDS,
        can_attach=f.status not in FACILITY.terminal,
    )


@bp.post("/<int:facility_id>/<action>")
@requires("facility.apply", "facility.manage")
def act(facility_id: int, action: str):
    load_visible(Facility, facility_id, can_see_facility)
    if action not in FACILITY.transitions:
        deny("facility.action", 404)
    if not has_capability(require_actor(), FACILITY.transitions[action].capability):
        deny(FACILITY.transitions[action].capability)  # before the form: a denial, not a form's error
    form = FORMS.get(action, ReasonForm)()
    if hasattr(form, "allowances"):
        _species_choices(form)
    if form.validate_on_submit():
        try:
            command = commands.action_command(action, form_data(form))
            service.record_facility_event(require_actor(), facility_id, command)
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("%(action)s: done.", action=_(FACILITY.transitions[action].label)), "success")
    else:
        flash(form_problems(form), "error")
    return redirect(url_for(".show", facility_id=facility_id))
