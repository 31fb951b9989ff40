"""Legal deadlines as data: what must follow what, within how many days, and whom it concerns.

Each rule finds its items with one query; an item is due from the day the clock starts and
overdue after the rule's number of days. Most rules wait for a follow-up still to be done; a
"report" rule looks back at reports already made and finds those that came late (a death must
be reported without delay). Administrators change the days (table ``deadline_setting``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import QueryableAttribute

from registry.i18n import N_
from registry.machines import AnimalState, FacilityState, TransferState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
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
    #: Rows (object, day the clock starts) still waiting for the follow-up; for a report rule,
    #: (object, day of the fact, when the report was recorded).
    open_items: Callable[[], object]
    #: Which national categories it applies to (None: every species; a species without a national
    #: category is protected by CITES alone and counts as "CITES").
    categories: frozenset[str] | None = None
    #: For a rule about reports already made (a death reported late): the column holding when the
    #: report reached the registry, the third column of ``open_items``.
    reported_at: QueryableAttribute[datetime] | None = None

    @property
    def kind(self) -> str:
        """ "follow_up": the item waits for something to be done; "report": it was done, late."""
        return "follow_up" if self.reported_at is None else "report"


def _last_event(state: str):
    return (
        select(Animal, func.max(AnimalEvent.occurred_on))
        .join(AnimalEvent, AnimalEvent.animal_id == Animal.id)
        .where(Animal.state == state, AnimalEvent.to_state == state)
        .group_by(Animal.id)
    )


def _death_reports():
    return (
        select(Animal, AnimalEvent.occurred_on, AnimalEvent.recorded_at)
        .join(AnimalEvent, AnimalEvent.animal_id == Animal.id)
        .where(AnimalEvent.event == "death")
    )


#: Designated-management wildlife (지정관리 야생동물) has a 30-day death report; every other category
#: follows the Wildlife Act for CITES species, "without delay", which the authority sets in days.
NOT_DESIGNATED = frozenset({"CITES", "ENDANGERED_I", "ENDANGERED_II", "DANGEROUS"})

RULES: tuple[Rule, ...] = (
    Rule(
        "death_report",
        N_("Report a death without delay"),
        N_("A death is reported without delay after the animal died (days as the authority reads the law)"),
        3,
        "animal",
        _death_reports,
        NOT_DESIGNATED,
        reported_at=AnimalEvent.recorded_at,
    ),
    Rule(
        "death_report_designated",
        N_("Report the death within 30 days"),
        N_("The death of designated-management wildlife is reported within 30 days"),
        30,
        "animal",
        _death_reports,
        frozenset({"DESIGNATED"}),
        reported_at=AnimalEvent.recorded_at,
    ),
    Rule(
        "carcass_disposal",
        N_("Dispose of the carcass"),
        N_("A dead animal's carcass is disposed of and the disposal recorded"),
        30,
        "animal",
        lambda: _last_event(AnimalState.DEAD),
    ),
    Rule(
        "register_after_entry",
        N_("Register the animal in a facility"),
        N_("An animal that entered the country is placed in a registered facility"),
        14,
        "animal",
        lambda: _last_event(AnimalState.ENTERED),
    ),
    Rule(
        "missing_outcome",
        N_("Settle a missing animal"),
        N_("A missing animal is recovered or declared dead"),
        90,
        "animal",
        lambda: _last_event(AnimalState.MISSING),
    ),
    Rule(
        "acknowledge_transfer",
        N_("Acknowledge the transfer"),
        N_("An accepted transfer is acknowledged by the regional environmental office"),
        7,
        "transfer",
        lambda: select(Transfer, Transfer.answered_at).where(Transfer.state == TransferState.ACCEPTED),
    ),
    Rule(
        "permit_expiry",
        N_("Use the permit before it expires"),
        N_("An issued permit is used before its validity ends"),
        0,
        "permit",
        lambda: select(Permit, Permit.valid_until).where(Permit.state.in_(sorted(PERMITS_IN_USE))),
    ),
    Rule(
        "inspection_due",
        N_("Inspect the facility"),
        N_("A registered facility is inspected again by the date set at the last inspection"),
        0,
        "facility",
        lambda: (
            select(Facility, func.max(Inspection.next_due))
            .join(Inspection, Inspection.facility_id == Facility.id)
            .where(Facility.status == FacilityState.REGISTERED)
            .group_by(Facility.id)
        ),
    ),
)
BY_CODE = {rule.code: rule for rule in RULES}


@dataclass(frozen=True)
class Item:
    rule: Rule
    subject: object
    starts: date
    due: date
    #: When a report rule's report was made (None for a follow-up still waited for).
    done: date | None = None

    def overdue(self, today: date) -> bool:
        return (self.done or today) > self.due


def days_for(rule: Rule, overrides: dict[str, int]) -> int:
    return overrides.get(rule.code, rule.days)


def due_on(rule: Rule, starts: date, overrides: dict[str, int]) -> date:
    return starts + timedelta(days=days_for(rule, overrides))
