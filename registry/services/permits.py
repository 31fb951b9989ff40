"""The permit workflow: every action on an existing permit goes through ``record_permit_event``.

The order is always the same: capability (403) -> load in scope, locked (404, 409 when stale) ->
(state, event) declared by the permit lifecycle (409) -> its guards, four eyes among them (409) ->
change -> audit entry -> commit. Applications are drafted and edited in
``registry.services.applications``, endorsed at the border in ``endorsements``, printed by
``documents``; what they share with the workflow (locked loading, the guards' context) is here.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from registry import clock, pdf
from registry.commands.permits import ACTIONS, PermitAction
from registry.extensions import db
from registry.i18n import _
from registry.machines import PERMIT, PermitState
from registry.models import DOCUMENT_TYPES, AuditEntry, Permit, User
from registry.models.base import utcnow
from registry.permissions import ROLE_LABELS, SIGNATORY_TITLES, Actor, Role, can_see_permit, has_capability, require
from registry.services import audit, documents, foreign_documents
from registry.services.context import changed, load_locked, write_transaction
from registry.services.errors import Conflict, ValidationFailed, refusals_as_conflict
from registry.services.numbers import permit_number


@dataclass
class Context:
    """What the permit machine's guards read."""

    actor: Actor
    permit: Permit
    #: The action's input: a PermitAction, or an Endorse at the border (None: not yet typed).
    command: Any
    today: date
    #: Users who drafted or edited the application: none of them may decide on it.
    editors: frozenset = frozenset()


def editors(session, permit: Permit) -> frozenset:
    """Who drafted or edited *permit*, from the audit log (the four-eyes rule reads it)."""
    return frozenset(
        session.scalars(
            select(AuditEntry.actor_id).where(
                AuditEntry.object_type == "permit",
                AuditEntry.object_id == str(permit.id),
                AuditEntry.action.in_(("permit.create", "permit.update")),
                AuditEntry.actor_id.is_not(None),
            )
        )
    )


def locked(session, actor: Actor, permit_id: int, expected_version: int | None = None) -> Permit:
    """The permit, locked for the transaction; NotFound outside the actor's scope, Conflict when it
    changed since the user read *expected_version*."""
    return load_locked(session, actor, PERMIT, Permit, can_see_permit, Permit.id == permit_id, expected_version)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def record_permit_event(actor: Actor, permit_id: int, event: str, command: PermitAction) -> Permit:
    """Take a workflow action (one of ``commands.permits.ACTIONS``) on a permit.

    :raises ValidationFailed: *event* is not a workflow action.
    :raises Forbidden: the actor's role may not take it.
    :raises NotFound: the permit is not visible to the actor.
    :raises Conflict: the action is illegal in the permit's state, a guard refused it (four eyes,
        a missing reason, the validity), or the permit changed since ``command.version``.
    """
    if event not in ACTIONS:
        raise ValidationFailed(_("unknown action %(event)s", event=repr(event)), {"event": _("not a workflow action")})
    require(actor, PERMIT.transitions[event].capability)
    today = clock.today()
    with write_transaction() as session:
        permit = locked(session, actor, permit_id, command.version)
        with refusals_as_conflict():
            t = PERMIT.transition(permit.state, event)
            PERMIT.check_guards(t, permit.state, Context(actor, permit, command, today, editors(session, permit)))
        # The ledger of foreign documents: a second use is flagged at submission, refused at issue.
        ledger: dict = {}
        if t.target == PermitState.ISSUED:
            use = foreign_documents.check_issue(session, actor, permit, command.override_reason)
            ledger = {"foreign_document": use} if use else {}
        elif t.target == PermitState.SUBMITTED and foreign_documents.note(session, permit):
            warning = permit.foreign_document_warning
            ledger = {"foreign_document_warning": warning} if warning else {}
        before = permit.as_audit()
        permit.state = t.target
        changed(permit)
        if command.reason:
            permit.decision_note = command.reason
        if t.target == PermitState.SUBMITTED:
            permit.submitted_at = utcnow()
        elif t.target == PermitState.APPROVED:
            permit.approved_by_id = actor.user_id
        elif t.target == PermitState.ISSUED:
            _issue(permit, _signatory(session, actor), command, today)
        session.flush()
        after = permit.as_audit()
        if t.target == PermitState.ISSUED:
            # The issued document is fixed from now on: its fingerprint goes on record.
            after["pdf_sha256"] = pdf.sha256(documents.permit_pdf(permit))
        after |= ledger
        audit.record(actor, f"permit.{event}", "permit", permit.id, before, after)
    return permit


def _signatory(session, actor: Actor) -> User:
    """The officer who issues: box 6 names their office and box 13 them; Conflict when they have no
    office (the Ministry's permits are issued by its regional offices)."""
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.office_code:
        raise Conflict(
            _("an officer without an office cannot issue: the administrator assigns the office first (box 6)"),
            {"issuing_office": _("your account has no office")},
        )
    return user


def _issue(permit: Permit, officer: User, command: PermitAction, today: date) -> None:
    permit.issuing_office = officer.office_code
    permit.signatory_name = officer.display_name
    permit.signatory_title = SIGNATORY_TITLES.get(Role(officer.role), ROLE_LABELS.get(Role(officer.role)))
    permit.number = permit_number(permit.issuing_country, today.year)
    permit.security_token = secrets.token_urlsafe(24)
    permit.valid_from = today
    permit.valid_until = add_months(today, DOCUMENT_TYPES[permit.doc_type]) - timedelta(days=1)
    permit.issued_by_id, permit.issued_at = officer.id, utcnow()
    if command.special_conditions:
        permit.special_conditions = command.special_conditions


def available_actions(actor: Actor, permit: Permit) -> list:
    """The workflow actions *actor* could take on *permit* now: declared from its state, allowed
    to the role, and not already refused by a guard that does not wait for the user's input."""
    ctx = Context(actor, permit, None, clock.today(), editors(db.session, permit))
    return [
        t
        for t in PERMIT.available(permit.state)
        if t.event in ACTIONS and has_capability(actor, t.capability) and PERMIT.blocked(t, ctx) is None
    ]


def expire_due(actor: Actor) -> list[str]:
    """Expire every issued or partly used permit whose validity is over, each in its own transaction."""
    expire = PERMIT.transitions["expire"]
    due = db.session.scalars(
        select(Permit.id).where(Permit.state.in_(sorted(expire.sources)), Permit.valid_until < clock.today())
    ).all()
    return [record_permit_event(actor, permit_id, expire.event, PermitAction()).display_number for permit_id in due]
