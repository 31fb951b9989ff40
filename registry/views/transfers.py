from functools import partial

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import load
from registry.commands import transfers as commands
from registry.extensions import db
from registry.forms import ConfirmForm
from registry.forms.transfers import AnswerForm, NoteForm, TransferForm
from registry.i18n import _
from registry.machines import TRANSFER, AnimalState, FacilityState
from registry.models import Animal, Facility, Transfer
from registry.permissions import can_see_transfer, offerable_animals, sees_transferee, visible_transfers
from registry.services import transfers as service
from registry.services.errors import DomainError
from registry.views.helpers import apply_errors, deny, form_data, require_actor, requires

bp = Blueprint("transfers", __name__, url_prefix="/transfers")


@bp.get("/")
@requires("transfer.start", "transfer.answer", "transfer.acknowledge", "animal.read_all")
def index():
    actor = require_actor()
    shown = (Transfer.transferor, Transfer.transferee, Transfer.facility, Transfer.animals)
    query = visible_transfers(actor, select(Transfer)).options(*(selectinload(r) for r in shown))
    rows = db.session.scalars(query.order_by(Transfer.id.desc()).limit(100)).all()
    return render_template(
        "transfers/index.html",
        rows=rows,
        waiting=service.pending_for(actor),
        machine=TRANSFER,
        answer=AnswerForm(),
        sees_transferee=partial(sees_transferee, actor),
    )


@bp.post("/answer")
@requires("transfer.answer")
def answer_by_code():
    form = AnswerForm()
    # The page has one field and two buttons; the button pressed is the answer.
    event = commands.Decline.EVENT if request.form.get("decline") else commands.Accept.EVENT
    if form.validate_on_submit():
        try:
            t = service.answer_by_code(
                require_actor(), load(commands.HandshakeSchema, {**form_data(form), "event": event})
            )
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Transfer %(code)s: %(state)s.", code=t.code, state=TRANSFER.label(t.state)), "success")
            return redirect(url_for(".show", transfer_id=t.id))
    return redirect(url_for(".index"))


@bp.route("/new", methods=["GET", "POST"])
@requires("transfer.start")
def new():
    actor = require_actor()
    form = TransferForm()
    own = db.session.scalars(
        offerable_animals(actor, select(Animal).where(Animal.state == AnimalState.IN_CAPTIVITY)).order_by(
            Animal.registry_no
        )
    ).all()
    form.animal_ids.choices = [(str(a.id), f"{a.registry_no} {a.species.scientific_name}") for a in own]
    form.facility_id.choices = [("", "-")] + [
        (str(f.id), f"{f.name} ({f.registration_no})")
        for f in db.session.scalars(
            select(Facility).where(Facility.status == FacilityState.REGISTERED).order_by(Facility.name)
        )
    ]
    if form.validate_on_submit():
        try:
            t = service.start(actor, load(commands.TransferOfferSchema, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Transfer offered. Give the transferee this code: %(code)s", code=t.code), "success")
            return redirect(url_for(".show", transfer_id=t.id))
    return render_template("transfers/new.html", form=form)


@bp.get("/<int:transfer_id>")
@requires("transfer.start", "transfer.answer", "transfer.acknowledge", "animal.read_all")
def show(transfer_id: int):
    actor = require_actor()
    # The page lists the animals with their species: loaded with the transfer, not one by one.
    shown = (
        selectinload(Transfer.transferor),
        selectinload(Transfer.transferee),
        selectinload(Transfer.facility),
        selectinload(Transfer.animals).selectinload(Animal.species),
    )
    t = db.session.get(Transfer, transfer_id, options=shown)
    if t is None or not can_see_transfer(actor, t):
        deny("transfer.scope", 404)
    actions = service.open_events(actor, t)
    form = NoteForm(data={"version": str(t.version)})
    return render_template(
        "transfers/show.html",
        t=t,
        actions=actions,
        machine=TRANSFER,
        form=form,
        confirm=ConfirmForm(),
        sees_transferee=sees_transferee(actor, t),
    )


@bp.post("/<int:transfer_id>/<action>")
@requires("transfer.start", "transfer.answer", "transfer.acknowledge")
def act(transfer_id: int, action: str):
    form = NoteForm()
    if form.validate_on_submit():
        try:
            command = commands.answer_command(action, form_data(form))
            service.record_transfer_event(require_actor(), transfer_id, command)
        except DomainError as exc:
            apply_errors(None, exc)
        else:
            flash(_("%(action)s: done.", action=_(TRANSFER.transitions[action].label)), "success")
    return redirect(url_for(".show", transfer_id=transfer_id))
