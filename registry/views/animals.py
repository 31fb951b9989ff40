from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.commands import load
from registry.extensions import db
from registry.forms import ConfirmForm
from registry.forms.animals import EVENT_FIELDS, BirthForm, IdentifierForm, event_form
from registry.i18n import _
from registry.labels import label
from registry.machines import ANIMAL, AnimalState, FacilityState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
from registry.models import (
    ATTACHMENT_KINDS,
    Animal,
    Facility,
    Identifier,
    Keeping,
    Party,
    Permit,
    PermitLine,
    Species,
)
from registry.models.animal import identifier_key
from registry.permissions import (
    can_see_animal,
    has_capability,
    visible_animals,
    visible_facilities,
    visible_parties,
    visible_permits,
)
from registry.services import animals as service
from registry.services import arrivals, attachments, identifiers
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
)  # fmt: skip

bp = Blueprint("animals", __name__, url_prefix="/animals")


#: A search this long or longer also matches registry numbers and marks that begin with it.
PREFIX_FROM = 4
#: Up to this many matches, a branch of the search is handed to the animal query as values.
AS_VALUES = 1000


def _values_or_query(query):
    """The ids *query* finds as a list when there are few (the planner then reads them by index,
    and knows how few they are), else the query itself (they are many: any plan finds a page fast)."""
    found = db.session.scalars(query.limit(AS_VALUES + 1)).all()
    return found if len(found) <= AS_VALUES else query


def search(q: str):
    """The condition on Animal for a search: a registry number or a mark (microchip, ring...),
    whole or by its beginning, written with or without spaces and dashes; or any part of a species'
    name. Each branch reads an index (the registry number's, ``identifier.value_key``, the species
    table), so the search does not grow with the register. A registry number or a mark is not
    searched by its middle."""
    key = identifier_key(q) or ""
    registry_no = Animal.registry_no == q.upper()
    mark = or_(Identifier.value == q, Identifier.value_key == key)
    if len(key) >= PREFIX_FROM:
        registry_no = or_(registry_no, Animal.registry_no.startswith(q.upper(), autoescape=True))
        mark = or_(mark, Identifier.value_key.startswith(key, autoescape=True))
    like = f"%{q}%"
    named = select(Animal.id).where(registry_no).union(select(Identifier.animal_id).where(mark))
    species = select(Species.id).where(
        or_(Species.scientific_name.ilike(like), Species.name_en.ilike(like), Species.name_ko.ilike(like))
    )
    return or_(Animal.id.in_(_values_or_query(named)), Animal.species_id.in_(_values_or_query(species)))


@bp.get("/")
@requires("animal.read_all", "animal.read_own")
def index():
    actor = require_actor()
    q = (request.args.get("q") or "").strip()
    state = request.args.get("state") or ""
    # What the rows show, loaded for the whole page at once (not one query per row).
    query = (
        visible_animals(actor, select(Animal))
        .options(selectinload(Animal.species), selectinload(Animal.holder))
        .order_by(Animal.id.desc())
    )
    if q:
        query = query.where(search(q))
    if state in AnimalState.__members__.values():
        query = query.where(Animal.state == state)
    return render_template("animals/index.html", **paginate(query), q=q, state=state, machine=ANIMAL)


#: The timeline details that name a row, and its model: shown by name (``|detail``).
DETAIL_LOOKUPS: dict[str, Any] = {
    "facility_id": Facility,
    "previous_facility_id": Facility,
    "owner_party_id": Party,
    "permit_id": Permit,
    "permit_line_id": PermitLine,
    "sire_id": Animal,
    "dam_id": Animal,
}

#: What the animal page reads of the animal: loaded with it, not one lazy load at a time.
PAGE_LOADS = (
    joinedload(Animal.species),
    joinedload(Animal.owner),
    joinedload(Animal.holder),
    joinedload(Animal.facility),
    joinedload(Animal.sire),
    joinedload(Animal.dam),
    joinedload(Animal.permit_line).joinedload(PermitLine.permit),
    selectinload(Animal.identifiers),
    selectinload(Animal.events),
)


def offspring_of(animal_id: int):
    """The animals whose sire or dam it is (read by ix_animal_sire_id and ix_animal_dam_id)."""
    return select(Animal).where(or_(Animal.sire_id == animal_id, Animal.dam_id == animal_id)).order_by(Animal.id)


def prefetch_details(events) -> None:
    """Load every row the timeline's details name, one query per model, so that ``|detail`` finds
    them in the session instead of asking the database once per detail."""
    wanted: dict[Any, set[int]] = {}
    for e in events:
        for key, value in (e.details or {}).items():
            named = DETAIL_LOOKUPS.get(key)
            if named is not None and isinstance(value, int) and not isinstance(value, bool):
                wanted.setdefault(named, set()).add(value)
    for model, ids in wanted.items():
        query = select(model).where(model.id.in_(ids))
        if model is PermitLine:  # shown as the permit it is a line of
            query = query.options(joinedload(PermitLine.permit))
        db.session.scalars(query).all()


@bp.app_template_filter("detail")
def detail(value, key: str):
    """An event detail for people: names instead of the ids the timeline stores."""
    lookups = DETAIL_LOOKUPS
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if key == "method":
        return _(label(value, "disposal"))
    model = lookups.get(key)
    obj = db.session.get(model, value) if model is not None and value is not None else None
    if obj is None:
        return value
    if isinstance(obj, PermitLine):  # shown as the permit it is a line of
        obj = obj.permit
    return getattr(obj, "registry_no", None) or getattr(obj, "display_number", None) or getattr(obj, "name", value)


@bp.get("/<int:animal_id>")
@requires("animal.read_all", "animal.read_own")
def show(animal_id: int):
    animal = load_visible(Animal, animal_id, can_see_animal, options=PAGE_LOADS)
    actor = require_actor()
    events = service.open_events(actor, animal)
    keeping = db.session.scalars(
        select(Keeping)
        .where(Keeping.animal_id == animal.id)
        .options(selectinload(Keeping.party), selectinload(Keeping.facility))
        .order_by(Keeping.id)
    ).all()
    prefetch_details(animal.events)
    offspring = db.session.scalars(offspring_of(animal.id)).all()
    return render_template(
        "animals/show.html",
        animal=animal,
        events=events,
        keeping=keeping,
        offspring=[o for o in offspring if can_see_animal(actor, o)],
        machine=ANIMAL,
        identifier_form=IdentifierForm(),
        confirm=ConfirmForm(),
        files=attachments.of("animal", animal.id),
        kinds=ATTACHMENT_KINDS,
        can_attach=has_capability(actor, "animal.identify") and animal.state not in ANIMAL.terminal,
    )


def _choices(form, actor) -> None:
    """Options for an event form, within what the actor may see. (Keepers move animals to other
    keepers through transfers, so the transfer event's form is an officer's.)"""
    facilities = db.session.scalars(
        visible_facilities(
            actor, select(Facility).where(Facility.status == FacilityState.REGISTERED).order_by(Facility.name)
        )
    ).all()
    if hasattr(form, "facility_id"):
        form.facility_id.choices = [("", "-")] + [(str(f.id), f"{f.name} ({f.registration_no})") for f in facilities]
    if hasattr(form, "owner_party_id"):
        parties = db.session.scalars(visible_parties(actor, select(Party).order_by(Party.name)))
        form.owner_party_id.choices = [("", _("(unchanged)"))] + [(str(p.id), p.name) for p in parties]
    if hasattr(form, "permit_id"):
        permits = db.session.scalars(
            visible_permits(
                actor,
                select(Permit).where(Permit.state.in_(sorted(PERMITS_IN_USE)), Permit.doc_type != "import"),
            )
        ).all()
        form.permit_id.choices = [("", "-")] + [(str(p.id), p.display_number) for p in permits]


@bp.route("/<int:animal_id>/events/<event>", methods=["GET", "POST"])
@requires("animal.read_all", "animal.read_own")
def record_event(animal_id: int, event: str):
    animal = load_visible(Animal, animal_id, can_see_animal)
    if event not in EVENT_FIELDS:
        return render_template("error.html", status=404, title=_("No such event")), 404
    t = ANIMAL.transitions[event]
    if not has_capability(require_actor(), t.capability):
        deny(t.capability)
    form = event_form(event, version=str(animal.version))
    _choices(form, require_actor())
    if form.validate_on_submit():
        try:
            service.record_animal_event(require_actor(), animal.id, commands.event_command(event, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("%(event)s: recorded.", event=_(t.label)), "success")
            return redirect(url_for(".show", animal_id=animal.id))
    return render_template(
        "animals/event.html", animal=animal, form=form, transition=t, reason=ANIMAL.rejection(animal.state, event)
    )


@bp.route("/births/new", methods=["GET", "POST"])
@requires("animal.birth")
def new_birth():
    actor = require_actor()
    form = BirthForm()
    species = db.session.scalars(select(Species).order_by(Species.scientific_name)).all()
    form.species_id.choices = [(str(s.id), s.label()) for s in species]
    facilities = db.session.scalars(
        visible_facilities(actor, select(Facility).where(Facility.status == FacilityState.REGISTERED))
    ).all()
    form.facility_id.choices = [(str(f.id), f"{f.name} ({f.registration_no})") for f in facilities]
    parents = db.session.scalars(
        visible_animals(actor, select(Animal).where(Animal.state == AnimalState.IN_CAPTIVITY))
    ).all()
    for field, sexes in ((form.sire_id, "MU"), (form.dam_id, "FU")):
        field.choices = [("", _("unknown"))] + [
            (str(a.id), f"{a.registry_no} {a.species.scientific_name}") for a in parents if a.sex in sexes
        ]
    if form.validate_on_submit():
        try:
            animal = arrivals.register_birth(actor, load(arrival.BirthSchema, form_data(form)))
        except DomainError as exc:
            apply_errors(form, exc)
        else:
            flash(_("Birth recorded as %(number)s.", number=animal.registry_no), "success")
            return redirect(url_for(".show", animal_id=animal.id))
    return render_template("animals/birth.html", form=form)


@bp.post("/<int:animal_id>/identifiers")
@requires("animal.identify")
def add_identifier(animal_id: int):
    animal = load_visible(Animal, animal_id, can_see_animal)
    form = IdentifierForm()
    if form.validate_on_submit():
        try:
            identifiers.add_identifier(require_actor(), animal.id, load(arrival.NewIdentifierSchema, form_data(form)))
            flash(_("Identifier added."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    else:
        flash(_("Identifier not added: %(problems)s", problems=form_problems(form)), "error")
    return redirect(url_for(".show", animal_id=animal.id))


@bp.post("/identifiers/<int:identifier_id>/retire")
@requires("animal.identify")
def retire_identifier(identifier_id: int):
    ident = db.session.get(Identifier, identifier_id)
    animal_id = ident.animal_id if ident else 0
    if ConfirmForm().validate_on_submit():
        try:
            identifiers.retire_identifier(require_actor(), identifier_id)
            flash(_("Identifier retired."), "success")
        except DomainError as exc:
            apply_errors(None, exc)
    return redirect(url_for(".show", animal_id=animal_id))
