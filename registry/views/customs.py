"""The border: find a permit by number or QR code, and endorse it."""

from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import load
from registry.commands.endorsements import Direction, EndorseSchema
from registry.extensions import db
from registry.forms.customs import EndorsementForm, FindForm
from registry.i18n import _
from registry.machines import FacilityState
from registry.models import Animal, Facility, Permit, PermitLine
from registry.permissions import can_see_permit
from registry.services import endorsements
from registry.services.errors import DomainError, ValidationFailed
from registry.views.helpers import apply_errors, load_visible, require_actor, requires

bp = Blueprint("customs", __name__, url_prefix="/customs")


def _number(text: str) -> str:
    """A permit number typed, or read from the verification address of a QR code."""
    text = text.strip()
    if "/verify/" in text:
        text = unquote(urlsplit(text).path.split("/verify/", 1)[1])
    return text.upper()


@bp.get("/")
@requires("permit.endorse")
def find():
    form = FindForm(request.args)
    if request.args and form.validate():
        permit = db.session.scalar(
            select(Permit).where(
                Permit.issuing_country == current_app.config["ISSUING_COUNTRY"], Permit.number == _number(form.q.data)
            )
        )
        if permit is not None:
            return redirect(url_for(".endorse", permit_id=permit.id))
        form.q.errors = list(form.q.errors) + [_("No permit with this number.")]
    return render_template("customs/find.html", form=form)


@bp.route("/permits/<int:permit_id>/endorse", methods=["GET", "POST"])
@requires("permit.endorse")
def endorse(permit_id: int):
    # Each line is shown with its species: loaded with the permit, not one line at a time.
    lines = selectinload(Permit.lines).selectinload(PermitLine.species)
    permit = load_visible(Permit, permit_id, can_see_permit, options=(lines,))
    form = EndorsementForm()
    while len(form.lines) < len(permit.lines):
        form.lines.append_entry()
    form.seizure_facility_id.choices = [("", "-")] + [
        (str(f.id), f"{f.name} ({f.registration_no})")
        for f in db.session.scalars(
            select(Facility).where(Facility.status == FacilityState.REGISTERED).order_by(Facility.name)
        )
    ]
    used = endorsements.cleared(db.session, permit)
    if form.validate_on_submit():
        try:
            endorsement = endorsements.endorse(require_actor(), permit.id, load(EndorseSchema, _data(permit, form)))
        except DomainError as exc:
            apply_errors(form, exc)
            _marks_errors(form, exc)
        else:
            flash(_("Endorsement recorded."), "success")
            return redirect(url_for("permits.receipt", permit_id=permit.id, endorsement_id=endorsement.id))
    return render_template(
        "customs/endorse.html",
        permit=permit,
        form=form,
        used=used,
        direction=_direction(permit),
    )


def _marks_errors(form: EndorsementForm, exc: DomainError) -> None:
    """A refusal about a line's animals (``lines.N.animals`` or ``animal_ids``) also shown under
    that line's marks; N counts the lines sent, the rows with a quantity."""
    sent = [entry for entry in form.lines if (entry.form.quantity.data or "").strip()]
    for name, message in exc.fields.items():
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != "lines" or parts[2] not in ("animals", "animal_ids"):
            continue
        if parts[1].isdigit() and int(parts[1]) < len(sent):
            marks = sent[int(parts[1])].form.marks
            marks.errors = list(marks.errors) + [message]


def _direction(permit: Permit) -> Direction:
    """The way the permit's consignment crosses: the page offers no choice."""
    return Direction.ENTRY if permit.direction == "import" else Direction.EXIT


def _data(permit: Permit, form: EndorsementForm) -> dict:
    """The form as the endorsement's input: marks become identifiers (entry) or animal ids (exit)."""
    direction = _direction(permit)
    lines: list[dict] = []
    unknown: dict[str, str] = {}
    for line, entry in zip(permit.lines, form.lines, strict=False):
        if not (entry.form.quantity.data or "").strip():
            continue
        marks = [m.strip() for m in (entry.form.marks.data or "").splitlines() if m.strip()]
        row = {
            "line_no": line.line_no,
            "quantity": entry.form.quantity.data.strip(),
            "outcome": entry.form.outcome.data,
        }
        if direction == Direction.ENTRY:
            row["animals"] = [{"identifiers": [{"kind": "microchip", "value": m}]} for m in marks]
        else:
            # Each number typed names one animal: a typo is refused, never silently left out.
            numbers = [m.upper() for m in marks]
            found = {
                a.registry_no: a.id for a in db.session.scalars(select(Animal).where(Animal.registry_no.in_(numbers)))
            }
            missing = [n for n in numbers if n not in found]
            if missing:
                unknown[f"lines.{len(lines)}.animal_ids"] = _(
                    "no animal with registry number %(number)s", number=", ".join(missing)
                )
            row["animal_ids"] = [found[n] for n in numbers if n in found]
        lines.append(row)
    if unknown:
        raise ValidationFailed(_("the endorsement has errors"), unknown)
    return {
        "direction": direction.value,
        "port": form.port.data,
        "transport_doc": form.transport_doc.data,
        "endorsed_on": form.endorsed_on.data,
        "lines": lines,
        "seizure_facility_id": form.seizure_facility_id.data,
        "override_reason": form.override_reason.data,
        "foreign_permit_no": form.foreign_permit_no.data,
        "foreign_permit_date": form.foreign_permit_date.data,
    }
