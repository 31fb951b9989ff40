"""The permit workflow, from draft to closure.

Guards read ``ctx.actor``, ``ctx.permit``, ``ctx.editors``, ``ctx.command`` (the action's input: a
``PermitAction``, or an ``Endorse`` at the border) and ``ctx.today`` (for an endorsement, the day
the consignment crossed).
"""

from enum import StrEnum

from registry.i18n import N_, _
from registry.machines.base import Guard, Machine, Transition


class PermitState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    ISSUED = "issued"
    PARTLY_USED = "partly_used"
    USED = "used"
    CLOSED = "closed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


S = PermitState

# Keyed by plain str: the machine looks labels up by the state stored in a column.
LABELS: dict[str, str] = {
    S.DRAFT: N_("Draft"),
    S.SUBMITTED: N_("Submitted"),
    S.CHANGES_REQUESTED: N_("Changes requested"),
    S.APPROVED: N_("Approved"),
    S.REFUSED: N_("Refused"),
    S.WITHDRAWN: N_("Withdrawn"),
    S.ISSUED: N_("Issued"),
    S.PARTLY_USED: N_("Partly used"),
    S.USED: N_("Fully used"),
    S.CLOSED: N_("Closed"),
    S.EXPIRED: N_("Expired"),
    S.CANCELLED: N_("Cancelled"),
}


def _has_lines(ctx) -> str | None:
    return None if ctx.permit.lines else _("an application needs at least one line item")


def _not_own_application(ctx) -> str | None:
    p, a = ctx.permit, ctx.actor
    if a.user_id is not None and (a.user_id == p.created_by_id or a.user_id in ctx.editors):
        return _("four eyes: nobody may decide on an application they drafted or edited")
    if a.party_id is not None and a.party_id == p.applicant_party_id:
        return _("four eyes: nobody may decide on their own party's application")
    return None


def _not_approver(ctx) -> str | None:
    approver = ctx.permit.approved_by_id
    if approver is not None and ctx.actor.user_id == approver:
        return _("four eyes: the officer who approved an application may not also issue it")
    return None


def _by_applicant(ctx) -> str | None:
    p, a = ctx.permit, ctx.actor
    if a.is_system or (a.party_id is not None and a.party_id == p.applicant_party_id):
        return None
    if a.party_id is None and a.user_id is not None and a.user_id == p.created_by_id:
        return None  # the officer who drafted it on the applicant's behalf
    return _("only the applicant, or the officer who drafted the application for them, may withdraw it")


def _within_validity(ctx) -> str | None:
    p = ctx.permit
    if p.valid_until is not None and ctx.today > p.valid_until:
        return _("the permit expired on %(day)s", day=p.valid_until.isoformat())
    return None


def _past_validity(ctx) -> str | None:
    p = ctx.permit
    if p.valid_until is None or ctx.today <= p.valid_until:
        return _("the permit is still within its validity")
    return None


def _right_direction(ctx) -> str | None:
    p = ctx.permit
    if p.direction == "import" and ctx.command.direction != "entry":
        return _(
            "permit %(permit)s is an import document: it is endorsed at entry, not at exit", permit=p.display_number
        )
    if p.direction != "import" and ctx.command.direction != "exit":
        return _(
            "permit %(permit)s is an export document: it is endorsed at exit, not at entry", permit=p.display_number
        )
    return None


HAS_LINES = Guard("has_line_items", "the application has at least one line item", _has_lines)
FOUR_EYES = Guard("not_own_application", "the decision is not taken by the applicant", _not_own_application)
NOT_APPROVER = Guard("not_approver", "the permit is not issued by the officer who approved it", _not_approver)
BY_APPLICANT = Guard(
    "by_applicant", "the applicant, or the officer who drafted it for them, withdraws an application", _by_applicant
)
VALID = Guard("within_validity", "the permit has not expired", _within_validity)
DIRECTION = Guard(
    "right_direction",
    "an import permit is endorsed at entry, an export-side document at exit",
    _right_direction,
    on_input=True,
    field="direction",
)
PAST_VALIDITY = Guard("past_validity", "the validity period is over", _past_validity)

#: Permits in force: customs may endorse them until they expire.
IN_USE = frozenset({S.ISSUED, S.PARTLY_USED})

PERMIT = Machine(
    "permit",
    PermitState,
    noun=N_("permit"),
    terminal={S.REFUSED, S.WITHDRAWN, S.CLOSED, S.EXPIRED, S.CANCELLED},
    state_labels=LABELS,
    transitions=[
        Transition("create", frozenset(), S.DRAFT, "permit.apply", N_("Draft an application")),
        Transition(
            "submit", frozenset({S.DRAFT, S.CHANGES_REQUESTED}), S.SUBMITTED, "permit.apply", N_("Submit"), (HAS_LINES,)
        ),
        Transition(
            "withdraw",
            frozenset({S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED}),
            S.WITHDRAWN,
            "permit.apply",
            N_("Withdraw the application"),
            (BY_APPLICANT,),
        ),
        Transition(
            "request_changes",
            frozenset({S.SUBMITTED}),
            S.CHANGES_REQUESTED,
            "permit.review",
            N_("Request changes"),
            (FOUR_EYES,),
        ),
        Transition("approve", frozenset({S.SUBMITTED}), S.APPROVED, "permit.review", N_("Approve"), (FOUR_EYES,)),
        Transition(
            "refuse",
            frozenset({S.SUBMITTED, S.APPROVED}),
            S.REFUSED,
            "permit.review",
            N_("Refuse"),
            (FOUR_EYES,),
        ),
        Transition("issue", frozenset({S.APPROVED}), S.ISSUED, "permit.issue", N_("Issue"), (FOUR_EYES, NOT_APPROVER)),
        Transition(
            "endorse", IN_USE, S.PARTLY_USED, "permit.endorse", N_("Endorse part of the quantities"), (VALID, DIRECTION)
        ),
        Transition(
            "endorse_final", IN_USE, S.USED, "permit.endorse", N_("Endorse the last quantities"), (VALID, DIRECTION)
        ),
        Transition("close", frozenset({S.USED, S.PARTLY_USED}), S.CLOSED, "permit.close", N_("Close")),
        Transition("expire", IN_USE, S.EXPIRED, "permit.expire", N_("Expire"), (PAST_VALIDITY,)),
        Transition("cancel", IN_USE, S.CANCELLED, "permit.cancel", N_("Cancel the permit")),
    ],
)
