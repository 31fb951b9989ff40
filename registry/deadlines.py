"""Legal deadlines as data: what must follow what, within how many days, and whom it concerns.

Each rule finds its open items with one query; an item is due from the day the clock starts and
overdue after the rule's number of days. Administrators change the days (table ``deadline_setting``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from registry.i18n import N_
from registry.models import Animal, AnimalEvent, Facility, Inspection, Permit, Transfer


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    #: What must happen, as the law or practice puts it.
    description: str
    days: int
    #: "animal", "permit", "transfer" or "facility": what an item is about.
    subject: str
    #: Rows (object, day the clock starts) still waiting for the follow-up.
    open_items: Callable[[], object]
    #: Which national categories it applies to (None: every species).
    categories: frozenset[str] | None = None


def _last_event(state: str):
    return (select(Animal, func.max(AnimalEvent.occurred_on))
            .join(AnimalEvent, AnimalEvent.animal_id == Animal.id)
            .where(Animal.state == state, AnimalEvent.to_state == state).group_by(Animal.id))


RULES: tuple[Rule, ...] = (
    Rule("carcass_disposal", N_("Dispose of the carcass"),
         N_("A dead animal's carcass is disposed of and the disposal recorded"), 30, "animal",
         lambda: _last_event("dead")),
    Rule("register_after_entry", N_("Register the animal in a facility"),
         N_("An animal that entered the country is placed in a registered facility"), 14, "animal",
         lambda: _last_event("entered")),
    Rule("missing_outcome", N_("Settle a missing animal"),
         N_("A missing animal is recovered or declared dead"), 90, "animal",
         lambda: _last_event("missing")),
    Rule("acknowledge_transfer", N_("Acknowledge the transfer"),
         N_("An accepted transfer is acknowledged by the regional environmental office"), 7, "transfer",
         lambda: select(Transfer, Transfer.answered_at).where(Transfer.state == "accepted")),
    Rule("permit_expiry", N_("Use the permit before it expires"),
         N_("An issued permit is used before its validity ends"), 0, "permit",
         lambda: select(Permit, Permit.valid_until).where(Permit.state.in_(("issued", "partly_used")))),
    Rule("inspection_due", N_("Inspect the facility"),
         N_("A registered facility is inspected again by the date set at the last inspection"), 0, "facility",
         lambda: select(Facility, func.max(Inspection.next_due)).join(Inspection, Inspection.facility_id == Facility.id)
         .where(Facility.status == "registered").group_by(Facility.id)),
)
BY_CODE = {rule.code: rule for rule in RULES}


@dataclass(frozen=True)
class Item:
    rule: Rule
    subject: object
    starts: date
    due: date

    def overdue(self, today: date) -> bool:
        return today > self.due


def days_for(rule: Rule, overrides: dict[str, int]) -> int:
    return overrides.get(rule.code, rule.days)


def due_on(rule: Rule, starts: date, overrides: dict[str, int]) -> date:
    return starts + timedelta(days=days_for(rule, overrides))



