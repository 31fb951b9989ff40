"""What is due and overdue, for whom: the deadline rules applied to the register, in each user's scope."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import current_app

from registry import clock, deadlines
from registry.extensions import db
from registry.permissions import can_see_animal, can_see_facility, can_see_permit, has_capability
from registry.services import transfers
from registry.services.context import Actor


def _visible(actor: Actor, rule: deadlines.Rule, obj) -> bool:
    if rule.subject == "animal":
        if rule.categories is not None and obj.species.national_category_code not in rule.categories:
            return False  # the rule is for other national categories
        return can_see_animal(actor, obj)
    if rule.subject == "permit":
        return can_see_permit(actor, obj)
    if rule.subject == "facility":
        return can_see_facility(actor, obj) and has_capability(actor, "facility.manage")
    return transfers._can_see(actor, obj) and has_capability(actor, "transfer.acknowledge")


def items(actor: Actor, rule_code: str | None = None, overdue_only: bool = False,
          horizon_days: int = 30) -> list[deadlines.Item]:
    """Open items in the actor's scope: overdue ones, and those falling due within *horizon_days*."""
    today = clock.today()
    from registry.services.admin import deadline_days

    overrides = {**current_app.config.get("DEADLINE_DAYS", {}), **deadline_days()}
    found = []
    for rule in deadlines.RULES:
        if rule_code and rule.code != rule_code:
            continue
        for subject, starts in db.session.execute(rule.open_items()).all():
            if starts is None or not _visible(actor, rule, subject):
                continue
            if isinstance(starts, datetime):
                starts = starts.date()
            item = deadlines.Item(rule, subject, starts, deadlines.due_on(rule, starts, overrides))
            if item.overdue(today) or (not overdue_only and (item.due - today).days <= horizon_days):
                found.append(item)
    return sorted(found, key=lambda i: i.due)


def label(item: deadlines.Item) -> str:
    s = item.subject
    return getattr(s, "registry_no", None) or getattr(s, "number", None) or getattr(s, "code", None) or \
        getattr(s, "registration_no", None) or str(getattr(s, "id", ""))


def as_csv(found: list[deadlines.Item]) -> str:
    today = clock.today()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["rule", "subject", "object", "since", "due", "overdue"])
    for item in found:
        writer.writerow([item.rule.code, item.rule.subject, label(item), item.starts.isoformat(),
                         item.due.isoformat(), "yes" if item.overdue(today) else "no"])
    return out.getvalue()
