"""Keeping facilities (사육시설): application, review, changes of capacity, inspections, closure.

Guards read ``ctx.actor``, ``ctx.facility``, ``ctx.command`` (the action's input,
registry.commands.facilities) and ``ctx.occupancy`` (species id -> animals kept). A reason, where
one is needed, is required by the action's schema: it is input, not a state of the facility.
"""

from enum import StrEnum

from registry.i18n import N_, _
from registry.machines.base import Guard, Machine, Transition
from registry.permissions import acts_for


class FacilityState(StrEnum):
    PENDING = "pending"
    CHANGES_REQUESTED = "changes_requested"
    REGISTERED = "registered"
    REFUSED = "refused"
    CLOSED = "closed"


S = FacilityState
# Keyed by plain str: the machine looks labels up by the state stored in a column.
LABELS: dict[str, str] = {
    S.PENDING: N_("Application under review"),
    S.CHANGES_REQUESTED: N_("Changes requested"),
    S.REGISTERED: N_("Registered"),
    S.REFUSED: N_("Refused"),
    S.CLOSED: N_("Closed"),
}


def _own_facility(ctx) -> str | None:
    if not acts_for(ctx.actor, ctx.facility.holder_party_id):
        return _("a keeper acts only on their own facility")
    return None


def _capacity_holds(ctx) -> str | None:
    new = {a.species_id: a.capacity for a in ctx.command.allowances}
    for species_id, kept in ctx.occupancy.items():
        if kept > new.get(species_id, 0):
            allowance = ctx.facility.allowance_for(species_id)
            return _(
                "%(kept)s animal(s) of species %(species)s are kept there: the capacity cannot go below that",
                kept=kept,
                species=allowance.species.scientific_name if allowance else species_id,
            )
    return None


def _empty(ctx) -> str | None:
    kept = sum(ctx.occupancy.values())
    return _("%(kept)s animal(s) are still kept there: move them before closing", kept=kept) if kept else None


OWN = Guard("own_facility", "a keeper acts on their own facility only", _own_facility)
CAPACITY = Guard(
    "capacity_holds", "the new capacity holds the animals kept", _capacity_holds, on_input=True, field="allowances"
)
EMPTY = Guard("facility_empty", "no animal is kept there any more", _empty)

FACILITY = Machine(
    "facility",
    FacilityState,
    noun=N_("facility"),
    terminal={S.REFUSED, S.CLOSED},
    state_labels=LABELS,
    transitions=[
        Transition("apply", frozenset(), S.PENDING, "facility.apply", N_("Apply for registration")),
        Transition("register", frozenset(), S.REGISTERED, "facility.manage", N_("Record a registered facility")),
        Transition("resubmit", frozenset({S.CHANGES_REQUESTED}), S.PENDING, "facility.apply", N_("Resubmit"), (OWN,)),
        Transition(
            "request_changes", frozenset({S.PENDING}), S.CHANGES_REQUESTED, "facility.manage", N_("Request changes")
        ),
        Transition("approve", frozenset({S.PENDING}), S.REGISTERED, "facility.manage", N_("Approve and register")),
        Transition("refuse", frozenset({S.PENDING}), S.REFUSED, "facility.manage", N_("Refuse")),
        Transition(
            "change_capacity",
            frozenset({S.REGISTERED}),
            S.REGISTERED,
            "facility.manage",
            N_("Change species and capacity"),
            (CAPACITY,),
        ),
        Transition("inspect", frozenset({S.REGISTERED}), S.REGISTERED, "facility.manage", N_("Record an inspection")),
        Transition("close", frozenset({S.REGISTERED}), S.CLOSED, "facility.apply", N_("Close"), (OWN, EMPTY)),
    ],
)
