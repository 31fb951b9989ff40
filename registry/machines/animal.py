"""The animal lifecycle, from the declaration on a permit to disposal of the carcass.

Guards read a context object built by the service (``registry.services.animals``):
``ctx.actor``, ``ctx.animal``, ``ctx.facility``, ``ctx.species_id``,
``ctx.occupancy`` (live animals of that species already in the facility),
``ctx.parents``, ``ctx.permit``, ``ctx.permit_used``, ``ctx.seized_from``, ``ctx.donation_approved``,
``ctx.command`` (the event's input, registry.commands.animals), ``ctx.today``.
"""

from enum import StrEnum

from registry.commands.animals import SAFE_METHODS, DisposalMethod
from registry.i18n import N_, _
from registry.labels import label
from registry.machines.base import Guard, Machine, Transition
from registry.machines.facility import FACILITY, FacilityState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
from registry.machines.permit import PERMIT, PermitState
from registry.permissions import acts_for, has_capability, party_bound


class AnimalState(StrEnum):
    DECLARED = "declared"
    ENTERED = "entered"
    IN_CAPTIVITY = "in_captivity"
    MISSING = "missing"
    SEIZED = "seized"
    DEAD = "dead"
    DISPOSED = "disposed"
    EXPORTED = "exported"
    VOID = "void"


S = AnimalState

# Keyed by plain str: the machine looks labels up by the state stored in a column.
LABELS: dict[str, str] = {
    S.DECLARED: N_("Declared on a permit"),
    S.ENTERED: N_("Entered at customs"),
    S.IN_CAPTIVITY: N_("In captivity"),
    S.MISSING: N_("Missing"),
    S.SEIZED: N_("Seized"),
    S.DEAD: N_("Dead"),
    S.DISPOSED: N_("Carcass disposed"),
    S.EXPORTED: N_("Exported"),
    S.VOID: N_("Declaration void"),
}


def _facility_accepts(ctx) -> str | None:
    f = ctx.facility
    if f is None:
        return _("a keeping facility is required")
    if f.status != FacilityState.REGISTERED:
        return _(
            "facility %(facility)s is not registered (status: %(status)s)",
            facility=f.registration_no,
            status=FACILITY.label(f.status),
        )
    allowance = f.allowance_for(ctx.species_id)
    if allowance is None:
        return _("facility %(facility)s is not registered for this species", facility=f.registration_no)
    if ctx.occupancy + 1 > allowance.capacity:
        return _(
            "facility %(facility)s is at capacity for this species (%(kept)s of %(capacity)s)",
            facility=f.registration_no,
            kept=ctx.occupancy,
            capacity=allowance.capacity,
        )
    return None


def _keeper_holds_facility(ctx) -> str | None:
    if ctx.facility is not None and not acts_for(ctx.actor, ctx.facility.holder_party_id):
        return _("a keeper can only place animals in their own facility")
    return None


def _parents_held(ctx) -> str | None:
    for parent, sexes, word in (
        (ctx.parents.get("sire"), {"M", "U"}, N_("sire")),
        (ctx.parents.get("dam"), {"F", "U"}, N_("dam")),
    ):
        if parent is None:
            continue
        named = {"parent": _(word), "animal": parent.registry_no}
        if parent.state != S.IN_CAPTIVITY:
            return _("the %(parent)s %(animal)s is not in captivity", **named)
        if parent.species_id != ctx.species_id:
            return _("the %(parent)s %(animal)s is of another species", **named)
        if parent.sex not in sexes:
            return _("the %(parent)s %(animal)s is recorded with sex %(sex)s", sex=_(label(parent.sex, "sex")), **named)
        if not acts_for(ctx.actor, parent.holder_party_id):
            return _("the %(parent)s %(animal)s is not held by the reporting keeper", **named)
    return None


def _transfer_changes_keeper(ctx) -> str | None:
    c, a = ctx.command, ctx.animal
    if c.owner_party_id in (None, a.owner_party_id) and c.facility_id in (None, a.facility_id):
        return _("a transfer must change the owner, the holder or the facility")
    return None


def _disposal_method_allowed(ctx) -> str | None:
    if ctx.disease_suspected and ctx.command.method not in SAFE_METHODS:
        return _("a disease was suspected at death: the carcass must be incinerated or buried")
    return None


def _donation_approved(ctx) -> str | None:
    if (
        ctx.command.method == DisposalMethod.DONATION
        and not ctx.donation_approved
        and not has_capability(ctx.actor, "animal.approve_donation")
    ):
        return _("a donation changes the specimen's use: a ministry officer must approve it first")
    return None


def _permit_open(p, ctx, purpose: str) -> str | None:
    """Why permit *p* cannot be used at the border today (entry or exit), or None."""
    if p.state not in PERMITS_IN_USE:
        return _(
            "permit %(permit)s is %(state)s, not valid for %(purpose)s",
            permit=p.display_number,
            state=PERMIT.label(p.state),
            purpose=_(purpose),
        )
    if p.valid_until is not None and ctx.today > p.valid_until:
        return _("permit %(permit)s expired on %(day)s", permit=p.display_number, day=p.valid_until.isoformat())
    return None


def _entry_permit_usable(ctx) -> str | None:
    p = ctx.permit
    if p is None:
        return _("the animal is not declared on a permit")
    refusal = _permit_open(p, ctx, N_("entry"))
    if refusal:
        return refusal
    if p.direction != "import":
        return _("permit %(permit)s is not an import document", permit=p.display_number)
    return None


def export_refusal(animal, permit) -> str | None:
    """Why *animal* cannot leave on export permit *permit*, or None: it must be in captivity and
    owned or held by the permit's applicant (the exporter). Customs endorsing an exit asks the same."""
    if animal.state != S.IN_CAPTIVITY:
        return _(
            "animal %(animal)s is '%(state)s', not in captivity: it cannot be exported",
            animal=animal.registry_no,
            state=ANIMAL.label(animal.state),
        )
    if permit.applicant_party_id not in (animal.owner_party_id, animal.holder_party_id):
        return _(
            "animal %(animal)s is neither owned nor held by the applicant of permit %(permit)s: it cannot leave on it",
            animal=animal.registry_no,
            permit=permit.display_number,
        )
    return None


def _export_permit_usable(ctx) -> str | None:
    p = ctx.permit
    if p is None:
        return _("an export permit or re-export certificate is required")
    if p.direction != "export":
        return _("permit %(permit)s is not an export document", permit=p.display_number)
    refusal = _permit_open(p, ctx, N_("exit")) or export_refusal(ctx.animal, p)
    if refusal:
        return refusal
    allowed = sum(
        line.quantity for line in p.lines if line.species_id == ctx.animal.species_id and line.term_code == "LIV"
    )
    if not allowed:
        return _("permit %(permit)s does not cover live animals of this species", permit=p.display_number)
    if ctx.permit_used + 1 > allowed:
        return _(
            "permit %(permit)s is used up for this species (%(used)s of %(allowed)s)",
            permit=p.display_number,
            used=ctx.permit_used,
            allowed=f"{allowed.normalize():f}",
        )
    return None


#: Permits animals may still be declared on: an import application until its permit is used up.
DECLARABLE_PERMITS = (
    frozenset({PermitState.DRAFT, PermitState.SUBMITTED, PermitState.CHANGES_REQUESTED, PermitState.APPROVED})
    | PERMITS_IN_USE
)


def _declarable_permit(ctx) -> str | None:
    p = ctx.permit
    if p.direction != "import":
        return _("animals are declared on import documents; %(permit)s is not one", permit=p.display_number)
    if p.state not in DECLARABLE_PERMITS:
        return _(
            "permit %(permit)s is %(state)s: no more animals can be declared on it",
            permit=p.display_number,
            state=PERMIT.label(p.state),
        )
    return None


def _keeper_owns(ctx) -> str | None:
    # Keepers move animals only through a transfer both parties agreed to (registry.services.transfers).
    if not ctx.handshake and not acts_for(ctx.actor, ctx.animal.owner_party_id):
        return _("only the owner can transfer an animal")
    return None


def _keeper_holds_animal(ctx) -> str | None:
    # Custody changes only through a transfer: an owner who lent the animal out does not take it back
    # by reporting it missing and recovering it somewhere else, nor end it by reporting its death;
    # the keeper who has the animal reports what happens to it.
    if not acts_for(ctx.actor, ctx.animal.holder_party_id):
        return _("only the keeper holding the animal or an officer can record this")
    return None


def _recovered_where_it_was(ctx) -> str | None:
    a, wanted = ctx.animal, ctx.command.facility_id
    if wanted is None or wanted == a.facility_id:
        return None
    if party_bound(ctx.actor):
        return _("a keeper records the recovery into the facility it was in")
    if ctx.facility is not None and ctx.facility.holder_party_id != a.holder_party_id:
        return _(
            "a recovered animal goes back to a facility of the keeper holding it; "
            "to place it elsewhere, seize it or transfer it"
        )
    return None


def _returnable(ctx) -> str | None:
    if ctx.seized_from == S.DECLARED:
        return _("the animal was seized at the border before entry: it can be forfeited, not returned")
    return None


DECLARABLE = Guard("declarable_permit", "an import application or permit that is still open", _declarable_permit)
KEEPER_OWNS = Guard("keeper_owns_animal", "keepers transfer through an agreed transfer only", _keeper_owns)
KEEPER_HOLDS_ANIMAL = Guard("keeper_holds_animal", "keepers report only the animals they hold", _keeper_holds_animal)
RECOVERED_TO_HOLDER = Guard(
    "recovered_to_holder",
    "a recovered animal returns to the holder's facility (a keeper: the one it was in)",
    _recovered_where_it_was,
    on_input=True,
    field="facility_id",
)
RETURNABLE = Guard("returnable", "the animal was in a keeper's care before seizure", _returnable)
FACILITY_ACCEPTS = Guard(
    "facility_accepts_species",
    "the facility is registered for the species and has room",
    _facility_accepts,
    on_input=True,
    field="facility_id",
)
KEEPER_HOLDS_FACILITY = Guard(
    "keeper_holds_facility",
    "a keeper places animals only in their own facility",
    _keeper_holds_facility,
    on_input=True,
    field="facility_id",
)
PARENTS_HELD = Guard(
    "parents_held_by_reporter",
    "known parents are in captivity, of the species, and held by the reporter",
    _parents_held,
    on_input=True,
)
TRANSFER_CHANGES = Guard(
    "transfer_changes_keeper", "the owner, holder or facility changes", _transfer_changes_keeper, on_input=True
)
DISPOSAL_ALLOWED = Guard(
    "disposal_method_allowed",
    "a suspected disease forces incineration or burial",
    _disposal_method_allowed,
    on_input=True,
    field="method",
)
ENTRY_PERMIT = Guard("entry_permit_usable", "the declaring import permit is issued and unexpired", _entry_permit_usable)
DONATION_APPROVED = Guard(
    "donation_approved",
    "a donation has the approval of a ministry officer",
    _donation_approved,
    on_input=True,
    field="method",
)
EXPORT_PERMIT = Guard(
    "export_permit_usable",
    "an issued, unexpired export permit of the animal's owner or holder covers the species",
    _export_permit_usable,
    on_input=True,
    field="permit_id",
)

LIVE = frozenset({S.ENTERED, S.IN_CAPTIVITY})

ANIMAL = Machine(
    "animal",
    AnimalState,
    noun=N_("animal"),
    terminal={S.DISPOSED, S.EXPORTED, S.VOID},
    state_labels=LABELS,
    transitions=[
        Transition("declare", frozenset(), S.DECLARED, "animal.declare", N_("Declare on a permit"), (DECLARABLE,)),
        Transition(
            "birth",
            frozenset(),
            S.IN_CAPTIVITY,
            "animal.birth",
            N_("Birth in captivity"),
            (KEEPER_HOLDS_FACILITY, FACILITY_ACCEPTS, PARENTS_HELD),
        ),
        Transition(
            "enter", frozenset({S.DECLARED}), S.ENTERED, "animal.enter", N_("Entry at customs"), (ENTRY_PERMIT,)
        ),
        Transition("refuse_entry", frozenset({S.DECLARED}), S.VOID, "animal.refuse_entry", N_("Entry refused")),
        Transition("void", frozenset({S.DECLARED}), S.VOID, "animal.void", N_("Void the declaration")),
        Transition(
            "register",
            frozenset({S.ENTERED}),
            S.IN_CAPTIVITY,
            "animal.register",
            N_("Register in a facility"),
            (KEEPER_HOLDS_FACILITY, FACILITY_ACCEPTS),
        ),
        Transition(
            "transfer",
            frozenset({S.IN_CAPTIVITY}),
            S.IN_CAPTIVITY,
            "animal.transfer",
            N_("Transfer ownership or custody"),
            (KEEPER_OWNS, TRANSFER_CHANGES, FACILITY_ACCEPTS),
        ),
        Transition("death", LIVE | {S.SEIZED}, S.DEAD, "animal.death", N_("Death"), (KEEPER_HOLDS_ANIMAL,)),
        Transition(
            "dispose",
            frozenset({S.DEAD}),
            S.DISPOSED,
            "animal.dispose",
            N_("Carcass disposal"),
            (KEEPER_HOLDS_ANIMAL, DISPOSAL_ALLOWED, DONATION_APPROVED),
        ),
        Transition(
            "approve_donation",
            frozenset({S.DEAD}),
            S.DEAD,
            "animal.approve_donation",
            N_("Approve a donation of the carcass"),
        ),
        Transition("export", frozenset({S.IN_CAPTIVITY}), S.EXPORTED, "animal.export", N_("Export"), (EXPORT_PERMIT,)),
        Transition(
            "report_missing",
            frozenset({S.IN_CAPTIVITY}),
            S.MISSING,
            "animal.report_missing",
            N_("Report missing"),
            (KEEPER_HOLDS_ANIMAL,),
        ),
        Transition(
            "recover",
            frozenset({S.MISSING}),
            S.IN_CAPTIVITY,
            "animal.recover",
            N_("Recovered"),
            (KEEPER_HOLDS_ANIMAL, RECOVERED_TO_HOLDER, KEEPER_HOLDS_FACILITY, FACILITY_ACCEPTS),
        ),
        Transition(
            "declare_dead", frozenset({S.MISSING}), S.DEAD, "animal.declare_dead", N_("Declare a missing animal dead")
        ),
        Transition(
            "seize", LIVE | {S.MISSING, S.DECLARED}, S.SEIZED, "animal.seize", N_("Seizure"), (FACILITY_ACCEPTS,)
        ),
        Transition(
            "return",
            frozenset({S.SEIZED}),
            S.IN_CAPTIVITY,
            "animal.return",
            N_("Return to the keeper"),
            (RETURNABLE, FACILITY_ACCEPTS),
        ),
        Transition("forfeit", frozenset({S.SEIZED}), S.IN_CAPTIVITY, "animal.forfeit", N_("Forfeit to the State")),
    ],
)
