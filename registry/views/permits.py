from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry import codes, offices
from registry.commands import arrivals as arrival
from registry.commands import load
from registry.commands.permits import ACTIONS, ApplicationSchema, Copy, action_schema
from registry.extensions import db
from registry.forms.permits import ApplicationForm, DecisionForm, DeclareForm
from registry.i18n import _
from registry.machines import PERMIT, PermitState
from registry.models import Animal, AuditEntry, Endorsement, Party, Permit, PermitLine, Species
from registry.permissions import can_see_permit, has_capability, visible_parties, visible_permits
from registry.services import applications, arrivals, documents, permits
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

bp = Blueprint("permits", __name__, url_prefix="/permits")


@bp.get("/")
@requires("permit.read_all", "permit.read_own")
def index():
    state = request.args.get("state") or ""
    query = (
        visible_permits(require_actor(), select(Permit))
        .options(selectinload(Permit.applicant))
        .order_by(Permit.created_at.desc(), Permit.id.desc())
    )
    if state in PermitState.__members__.values():
        query = query.where(Permit.state == state)
    return render_template("permits/index.html", **paginate(query), state=state, machine=PERMIT)


def _form_choices(form):
    parties = db.session.scalars(visible_parties(require_actor(), select(Party).order_by(Party.name))).all()
    party_choices = [("", "-")] + [(str(p.id), f"{p.name} ({p.country})") for p in parties]
    for field in (form.applicant_party_id, form.importer_party_id, form.exporter_party_id):
        field.choices = party_choices
    countries = [(c, f"{c} {n}") for c, n in codes.countries()]
    form.import_country.choices = countries
    form.export_country.choices = countries
    form.origin_country.choices = [("", "-")] + countries
    form.reexport_country.choices = [("", "-")] + countries
    species = db.session.scalars(select(Species).order_by(Species.scientific_name)).all()
    for line in form.lines:
        line.species_id.choices = [("", "-")] + [(str(s.id), s.label()) for s in species]
        line.origin_country.choices = [("", "-")] + countries


@bp.route("/new", methods=["GET", "POST"])
@requires("permit.apply")
def new():
    form = ApplicationForm()
    if request.method == "GET":
        form.import_country.data = current_app.config["ISSUING_COUNTRY"]
    _form_choices(form)
    if form.validate_on_submit():
        try:
            permit = applications.create_application(require_actor(), load(ApplicationSchema, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Draft saved. Submit it when it is complete."), "success")
            return redirect(url_for(".show", permit_id=permit.id))
    return render_template("permits/form.html", form=form, permit=None)


@bp.route("/<int:permit_id>/edit", methods=["GET", "POST"])
@requires("permit.apply")
def edit(permit_id: int):
    permit = load_visible(Permit, permit_id, can_see_permit)
    form = ApplicationForm(obj=permit if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(permit.version)
        for entry, line in zip(form.lines, permit.lines, strict=False):
            entry.form.species_id.data = str(line.species_id)
            entry.form.term_code.data = line.term_code
            entry.form.quantity.data = f"{line.quantity.normalize():f}"
            entry.form.unit_code.data = line.unit_code or ""
            entry.form.description.data = line.description
            entry.form.source_code.data = line.source_code or ""
            entry.form.purpose_code.data = line.purpose_code or ""
            entry.form.origin_country.data = line.origin_country or ""
            entry.form.operation_no.data = line.operation_no
            entry.form.acquired_on.data = line.acquired_on.isoformat() if line.acquired_on else ""
        for name in (
            "applicant_party_id",
            "importer_party_id",
            "exporter_party_id",
            "origin_country",
            "reexport_country",
        ):
            value = getattr(permit, name)
            getattr(form, name).data = "" if value is None else str(value)
    _form_choices(form)
    if form.validate_on_submit():
        try:
            applications.update_application(require_actor(), permit.id, load(ApplicationSchema, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Application saved."), "success")
            return redirect(url_for(".show", permit_id=permit.id))
    return render_template("permits/form.html", form=form, permit=permit)


@bp.get("/<int:permit_id>")
@requires("permit.read_all", "permit.read_own")
def show(permit_id: int):
    shown = (
        selectinload(Permit.lines).selectinload(PermitLine.species),
        selectinload(Permit.applicant),
        selectinload(Permit.importer),
        selectinload(Permit.exporter),
    )
    permit = load_visible(Permit, permit_id, can_see_permit, options=shown)
    actor = require_actor()
    actions = permits.available_actions(actor, permit)
    history = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "permit", AuditEntry.object_id == str(permit.id))
        .order_by(AuditEntry.seq)
    ).all()
    form = DecisionForm(version=str(permit.version))
    done = db.session.scalars(
        select(Endorsement).where(Endorsement.permit_id == permit.id).order_by(Endorsement.id)
    ).all()
    # The animals declared on each line, in one query for all the lines.
    declared: dict[int | None, list[Animal]] = {line.id: [] for line in permit.lines}
    for animal in db.session.scalars(
        select(Animal).where(Animal.permit_line_id.in_(list(declared))).order_by(Animal.id)
    ):
        declared[animal.permit_line_id].append(animal)
    return render_template(
        "permits/show.html",
        permit=permit,
        actions=actions,
        history=history,
        form=form,
        endorsements=done,
        declared=declared,
        declare_form=DeclareForm(),
        offices=offices,
        replaced_by=db.session.scalar(select(Permit).where(Permit.replaces_id == permit.id)),
        machine=PERMIT,
        editable=permit.state in applications.EDITABLE,
    )


@bp.post("/<int:permit_id>/copy")
@requires("permit.apply")
def copy(permit_id: int):
    permit = load_visible(Permit, permit_id, can_see_permit)
    if DecisionForm().validate_on_submit():
        try:
            new = applications.copy_application(
                require_actor(), permit.id, Copy(replace=request.args.get("replace") == "1")
            )
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("A new draft was made from this one: check it and submit it."), "success")
            return redirect(url_for(".show", permit_id=new.id))
    return redirect(url_for(".show", permit_id=permit.id))


@bp.post("/<int:permit_id>/lines/<int:line_no>/animals")
@requires("animal.declare")
def declare(permit_id: int, line_no: int):
    permit = load_visible(Permit, permit_id, can_see_permit)
    line = next((line for line in permit.lines if line.line_no == line_no), None)
    if line is None:
        abort(404)
    form = DeclareForm()
    if not form.validate_on_submit():
        flash(_("Not declared: %(problems)s", problems=form_problems(form)), "error")
    else:
        marks = [{"kind": "microchip", "value": form.microchip.data.strip()}] if form.microchip.data else []
        try:
            declaration = load(arrival.DeclarationSchema, {"sex": form.sex.data, "identifiers": marks})
            animal = arrivals.declare(require_actor(), line.id, declaration)
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("Declared as %(number)s.", number=animal.registry_no), "success")
    return redirect(url_for(".show", permit_id=permit.id))


@bp.get("/<int:permit_id>/pdf")
@requires("permit.read_all", "permit.read_own")
def pdf(permit_id: int):
    """The issued document; ``?copy=1``: the same marked as a copy on every page (not the original)."""
    permit = load_visible(Permit, permit_id, can_see_permit)
    copy = request.args.get("copy", "") not in ("", "0")
    name = f"{permit.number.replace('/', '-')}{'-copy' if copy else ''}.pdf"
    return _pdf(documents.permit_pdf(permit, copy=copy), name)


@bp.get("/<int:permit_id>/epermit.xml")
@requires("permit.read_all", "permit.read_own")
def epermit_xml(permit_id: int):
    """The issued permit as signed UN/CEFACT e-permit XML, for a partner authority or customs."""
    permit = load_visible(Permit, permit_id, can_see_permit)
    data = documents.permit_xml(permit)
    return Response(
        data,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{permit.number.replace("/", "-")}.xml"'},
    )


@bp.get("/<int:permit_id>/endorsements/<int:endorsement_id>/receipt.pdf")
@requires("permit.read_all", "permit.read_own")
def receipt(permit_id: int, endorsement_id: int):
    permit = load_visible(Permit, permit_id, can_see_permit)
    endorsement = db.session.get(Endorsement, endorsement_id)
    if endorsement is None or endorsement.permit_id != permit.id:
        deny("endorsement.scope", 404)
    return _pdf(
        documents.receipt_pdf(endorsement), f"{permit.number.replace('/', '-')}-endorsement-{endorsement.id}.pdf"
    )


def _pdf(data: bytes, filename: str):
    from flask import Response

    return Response(data, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.post("/<int:permit_id>/actions/<action>")
@requires("permit.read_all", "permit.read_own")
def act(permit_id: int, action: str):
    permit = load_visible(Permit, permit_id, can_see_permit)
    if action not in ACTIONS:
        return render_template("error.html", status=404, title=_("No such action")), 404
    if not has_capability(require_actor(), PERMIT.transitions[action].capability):
        deny(PERMIT.transitions[action].capability)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            permits.record_permit_event(
                require_actor(), permit.id, action, load(action_schema(action), form_data(form))
            )
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("%(action)s: done.", action=_(PERMIT.transitions[action].label)), "success")
    return redirect(url_for(".show", permit_id=permit.id))
