"""What is due and overdue, for whom: the deadline rules applied to the register, in each user's scope."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

from sqlalchemy import func

from registry import clock, deadlines
from registry.csv_cells import cell
from registry.extensions import db
from registry.models import Animal, Species
from registry.permissions import (
    Actor,
    has_capability,
    visible_animals,
    visible_facilities,
    visible_permits,
    visible_transfers,
)

#: Narrows a rule's open items to what an actor may see, in the query itself.
SCOPES = {
    "animal": visible_animals,
    "permit": visible_permits,
    "facility": visible_facilities,
    "transfer": visible_transfers,
}
#: Some follow-ups are the authority's own: only those who can do them see them.
DONE_BY = {"facility": "facility.manage", "transfer": "transfer.acknowledge"}


def items(
    actor: Actor, rule_code: str | None = None, overdue_only: bool = False, horizon_days: int = 30
) -> list[deadlines.Item]:
    """Open items in the actor's scope: overdue ones, and those falling due within *horizon_days*."""
    from registry.services.admin import deadline_days

    today = clock.today()
    overrides = deadline_days()
    found = []
    for rule in deadlines.RULES:
        if (rule_code and rule.code != rule_code) or not has_capability(actor, _done_by(rule)):
            continue
        for subject, starts, *done in db.session.execute(rule_query(actor, rule, horizon_days)).all():
            if starts is None:
                continue
            item = deadlines.Item(
                rule,
                subject,
                _day(starts),
                deadlines.due_on(rule, _day(starts), overrides),
                _day(done[0]) if done else None,
            )
            if rule.kind == "report":  # late reports of the last *horizon_days*
                if item.done is not None and item.overdue(today) and (today - item.done).days <= horizon_days:
                    found.append(item)
            elif item.overdue(today) or (not overdue_only and (item.due - today).days <= horizon_days):
                found.append(item)
    return sorted(found, key=lambda i: i.due)


def rule_query(actor: Actor, rule: deadlines.Rule, horizon_days: int = 30):
    """One rule's open items in the actor's scope, as one query (a report rule: its look-back window)."""
    query = SCOPES[rule.subject](actor, rule.open_items())
    if rule.reported_at is not None:  # only reports of the look-back window (a day more for time zones)
        # Read by ix_animal_event_event_recorded_at: the deaths recorded lately, not every animal's events.
        query = query.where(rule.reported_at >= clock.now() - timedelta(days=horizon_days + 1))
    if rule.categories is not None:  # only animals of these national categories
        query = query.join(Species, Species.id == Animal.species_id).where(
            func.coalesce(Species.national_category_code, "CITES").in_(rule.categories)
        )
    return query


def _done_by(rule: deadlines.Rule) -> str:
    # A late report is the authority's to follow up (a reminder, a fine); the keeper cannot undo it.
    return "animal.read_all" if rule.kind == "report" else DONE_BY.get(rule.subject, "species.read")


def _day(value) -> date:
    """A date, or the local calendar day of a recorded UTC time."""
    return value.astimezone().date() if isinstance(value, datetime) else value


def label(item: deadlines.Item) -> str:
    s = item.subject
    return (
        getattr(s, "registry_no", None)
        or getattr(s, "number", None)
        or getattr(s, "code", None)
        or getattr(s, "registration_no", None)
        or str(getattr(s, "id", ""))
    )


def as_csv(found: list[deadlines.Item]) -> str:
    today = clock.today()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["rule", "subject", "object", "since", "due", "overdue", "done"])
    for item in found:
        writer.writerow(
            map(
                cell,
                [
                    item.rule.code,
                    item.rule.subject,
                    label(item),
                    item.starts.isoformat(),
                    item.due.isoformat(),
                    "yes" if item.overdue(today) else "no",
                    item.done.isoformat() if item.done else "",
                ],
            )
        )
    return out.getvalue()
