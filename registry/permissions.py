"""Who may do what: roles, their capabilities, and the per-object scope rules.

This module is the single source of truth for authorisation. Views, the API,
templates, services and the CLI all ask ``has_capability`` and the ``can_see_*``
/ ``visible_*`` functions below; none keeps a copy of these rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import or_

from registry.i18n import N_, _
from registry.services.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    MINISTRY_OFFICER = "ministry_officer"
    CUSTOMS_OFFICER = "customs_officer"
    KEEPER = "keeper"
    AUDITOR = "auditor"


class PartnerRole(StrEnum):
    """A partner authority's role in the exchange (EPIX's "CITES MA" and "Customs")."""

    MANAGEMENT_AUTHORITY = "management_authority"
    CUSTOMS = "customs"


ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.MINISTRY_OFFICER: N_("Ministry officer"),
    Role.CUSTOMS_OFFICER: N_("Customs officer"),
    Role.KEEPER: N_("Keeper"),
    Role.AUDITOR: N_("Auditor"),
}

#: The title box 13 gives the signatory of a document, by role (stored in English, translated when shown).
SIGNATORY_TITLES = {
    Role.MINISTRY_OFFICER: N_("CITES permit officer"),
    Role.ADMIN: N_("CITES Management Authority"),
}


@dataclass(frozen=True)
class Actor:
    """The acting user, with what the audit log records about the request."""

    user_id: int | None
    username: str
    role: str
    party_id: int | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client_addr: str | None = None
    #: A console operator (CLI); has every capability, recorded as role "system".
    is_system: bool = False
    #: The capabilities an API token was limited to, within the role's; None: the role's all.
    scope: frozenset[str] | None = None
    #: A partner authority calling the exchange (registry.services.exchange): no user, and only
    #: what PARTNER_CAPABILITIES gives its role.
    partner_id: int | None = None
    partner_role: str | None = None

    @classmethod
    def for_user(
        cls,
        user,
        request_id: str | None = None,
        client_addr: str | None = None,
        scope: frozenset[str] | None = None,
    ) -> Actor:
        return cls(
            user.id, user.username, user.role, user.party_id, request_id or uuid.uuid4().hex, client_addr, scope=scope
        )

    @classmethod
    def for_partner(cls, partner, request_id: str | None = None, client_addr: str | None = None) -> Actor:
        """A partner authority, recorded in the audit log as ``partner:<country>:<name>`` with the role
        ``partner:<its role>``."""
        return cls(
            None,
            f"partner:{partner.country}:{partner.name}"[:200],
            f"partner:{partner.role}",
            request_id=request_id or uuid.uuid4().hex,
            client_addr=client_addr,
            partner_id=partner.id,
            partner_role=partner.role,
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(None, f"system:{name}", "system", is_system=True)


#: Every capability the application knows, with what it lets one do (refusals quote it).
#: Asking for any other name is a bug and raises.
CAPABILITIES: dict[str, str] = {
    "species.read": N_("Browse the species reference list"),
    "species.manage": N_("Correct species reference data and import the checklist"),
    "party.read_all": N_("See every party (person or organisation)"),
    "party.manage": N_("Create and correct parties"),
    "facility.read_all": N_("See every keeping facility"),
    "facility.apply": N_("Apply to register one's keeping facility, resubmit it, report its closure"),
    "facility.manage": N_("Review, register, change, inspect and close keeping facilities"),
    "animal.read_all": N_("See every animal"),
    "animal.read_own": N_("See the animals one owns or holds"),
    "animal.declare": N_("Declare animals on a permit application"),
    "animal.enter": N_("Record an animal's entry at customs"),
    "animal.refuse_entry": N_("Refuse an animal's entry at the border"),
    "animal.void": N_("Void a declaration that will not be used"),
    "animal.register": N_("Place an entered animal in a registered facility"),
    "animal.transfer": N_("Transfer ownership or custody of an animal"),
    "animal.birth": N_("Report a birth in captivity"),
    "animal.death": N_("Report a death"),
    "animal.dispose": N_("Record the disposal of a carcass"),
    "animal.export": N_("Record an animal's exit from the country"),
    "animal.report_missing": N_("Report an animal missing"),
    "animal.recover": N_("Record the recovery of a missing animal"),
    "animal.declare_dead": N_("Declare a missing animal dead"),
    "animal.seize": N_("Seize an animal"),
    "animal.return": N_("Return a seized animal to its keeper"),
    "animal.forfeit": N_("Forfeit a seized animal to the State"),
    "animal.identify": N_("Add or retire an animal's identifiers"),
    "animal.approve_donation": N_("Approve the donation of a carcass to a museum or research institute"),
    "transfer.start": N_("Start or cancel a transfer of one's animals to another keeper"),
    "transfer.answer": N_("Accept or decline a transfer offered to one"),
    "transfer.acknowledge": N_("Acknowledge an accepted transfer for the authority"),
    "permit.read_all": N_("See every permit"),
    "permit.read_own": N_("See the permits one applied for or is party to"),
    "permit.apply": N_("Draft, submit and withdraw permit applications"),
    "permit.review": N_("Request changes on, approve or refuse an application"),
    "permit.issue": N_("Issue an approved permit"),
    "permit.cancel": N_("Cancel an issued permit"),
    "permit.endorse": N_("Endorse a permit at the border"),
    "permit.close": N_("Close a used permit"),
    "permit.expire": N_("Mark a permit expired"),
    "report.annual": N_("Build the CITES annual report"),
    "audit.read": N_("Read the audit log"),
    "audit.verify": N_("Verify the audit chain"),
    "user.manage": N_("Create users, assign roles, disable accounts"),
}

_READ_ALL = {"species.read", "party.read_all", "facility.read_all", "animal.read_all", "permit.read_all"}

#: What a read-only API token may use: the capabilities that change nothing.
READ_CAPABILITIES: frozenset[str] = frozenset(
    _READ_ALL | {"animal.read_own", "permit.read_own", "report.annual", "audit.read", "audit.verify"}
)

#: The roles whose accounts can issue documents, clear animals at the border, change accounts or
#: read everything: their login asks for a second factor, and they enrol on their first login.
SECOND_FACTOR_ROLES: frozenset[Role] = frozenset(
    {Role.ADMIN, Role.MINISTRY_OFFICER, Role.CUSTOMS_OFFICER, Role.AUDITOR}
)

ROLE_CAPABILITIES: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(_READ_ALL | {"species.manage", "party.manage", "audit.read", "audit.verify", "user.manage"}),
    Role.MINISTRY_OFFICER: frozenset(
        _READ_ALL
        | {
            "party.manage",
            "facility.manage",
            "facility.apply",
            "animal.declare",
            "animal.void",
            "animal.register",
            "animal.transfer",
            "animal.birth",
            "animal.death",
            "animal.dispose",
            "animal.report_missing",
            "animal.recover",
            "animal.declare_dead",
            "animal.seize",
            "animal.return",
            "animal.forfeit",
            "animal.identify",
            "animal.approve_donation",
            "transfer.start",
            "transfer.answer",
            "transfer.acknowledge",
            "permit.apply",
            "permit.review",
            "permit.issue",
            "permit.cancel",
            "permit.close",
            "permit.expire",
            "audit.read",
            "report.annual",
        }
    ),
    Role.CUSTOMS_OFFICER: frozenset(
        _READ_ALL
        | {
            "animal.declare",
            "animal.enter",
            "animal.refuse_entry",
            "animal.export",
            "animal.seize",
            "animal.identify",
            "permit.endorse",
        }
    ),
    Role.KEEPER: frozenset(
        {
            "species.read",
            "animal.read_own",
            "permit.read_own",
            "animal.declare",
            "animal.register",
            "animal.birth",
            "animal.death",
            "animal.dispose",
            "animal.report_missing",
            "animal.recover",
            "animal.identify",
            "transfer.start",
            "transfer.answer",
            "permit.apply",
            "facility.apply",
        }
    ),
    Role.AUDITOR: frozenset(_READ_ALL | {"audit.read", "audit.verify", "report.annual"}),
}

#: Roles whose users act only for their own party: a keeper declares, moves and reports only
#: what its party owns or holds, and its account cannot exist without a party.
PARTY_BOUND: frozenset[Role] = frozenset({Role.KEEPER})

#: What a partner authority may do through the exchange, and nothing else (its token opens no other
#: endpoint). Both read the documents they are shown (registry.services.exchange decides which);
#: only customs confirms inspected quantities, which the endorsement service records as any
#: endorsement: it sees the permit it endorses, and live animals cleared at entry are declared and
#: entered on the way (the services find them in the partner's scope). No exchange endpoint shows
#: an animal.
PARTNER_CAPABILITIES: dict[PartnerRole, frozenset[str]] = {
    PartnerRole.MANAGEMENT_AUTHORITY: frozenset({"permit.read_all"}),
    PartnerRole.CUSTOMS: frozenset(
        {"permit.read_all", "permit.endorse", "animal.read_all", "animal.declare", "animal.enter"}
    ),
}


def _check_table() -> None:
    for role, caps in ROLE_CAPABILITIES.items():
        unknown = caps - CAPABILITIES.keys()
        if unknown:
            raise ValueError(f"role {role} names unknown capabilities {sorted(unknown)}")
    missing = set(Role) - ROLE_CAPABILITIES.keys()
    if missing:
        raise ValueError(f"roles without capabilities {sorted(missing)}")


_check_table()


def has_capability(actor: Actor | None, capability: str) -> bool:
    """True when *actor*'s role grants *capability*.

    :raises ValueError: for a capability name that does not exist, so a typo
        fails loudly instead of silently denying (or allowing) everything.
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if actor is None:
        return False
    if actor.is_system:
        return True
    if actor.scope is not None and capability not in actor.scope:
        return False
    if actor.partner_role is not None:
        return capability in PARTNER_CAPABILITIES[PartnerRole(actor.partner_role)]
    return capability in ROLE_CAPABILITIES.get(Role(actor.role), frozenset())


def require(actor: Actor | None, *capabilities: str) -> None:
    """Refuse (Forbidden, 403) unless *actor*'s role has one of *capabilities*."""
    if not any(has_capability(actor, c) for c in capabilities):
        raise Forbidden(
            _("your role may not: %(what)s", what=_(CAPABILITIES[capabilities[0]])), " or ".join(capabilities)
        )


def needs_party(role: str) -> bool:
    """True when accounts of *role* must be linked to a party (they act for it alone)."""
    return role in PARTY_BOUND


def acts_for(actor: Actor, party_id: int | None) -> bool:
    """True when *actor* may act for *party_id*: any party, unless the role is bound to its own."""
    if actor.is_system or actor.role not in PARTY_BOUND:  # a partner's role is no Role
        return True
    return actor.party_id is not None and actor.party_id == party_id


def party_bound(actor: Actor) -> bool:
    """True when *actor* acts only for its own party (a keeper)."""
    return not actor.is_system and actor.role in PARTY_BOUND


def may_change_role(actor: Actor, user, new_role: str) -> bool:
    """An administrator may change anyone's role but their own (nobody locks the last admin out)."""
    return user.id != actor.user_id or Role(new_role) is Role(user.role)


def _scoped(actor: Actor, area: str) -> bool:
    """True when the actor sees only their own objects of *area*."""
    return not has_capability(actor, f"{area}.read_all")


def visible_animals(actor: Actor, query):
    """Restrict an Animal select to what *actor* may see."""
    from registry.models import Animal

    if not _scoped(actor, "animal"):
        return query
    if not has_capability(actor, "animal.read_own") or actor.party_id is None:
        return query.where(False)
    return query.where(or_(Animal.owner_party_id == actor.party_id, Animal.holder_party_id == actor.party_id))


def can_see_animal(actor: Actor, animal) -> bool:
    if not _scoped(actor, "animal"):
        return True
    return (
        has_capability(actor, "animal.read_own")
        and actor.party_id is not None
        and actor.party_id in (animal.owner_party_id, animal.holder_party_id)
    )


def visible_permits(actor: Actor, query):
    from registry.models import Permit

    if not _scoped(actor, "permit"):
        return query
    if not has_capability(actor, "permit.read_own") or actor.party_id is None:
        return query.where(False)
    return query.where(Permit.applicant_party_id == actor.party_id)


def can_see_permit(actor: Actor, permit) -> bool:
    if not _scoped(actor, "permit"):
        return True
    return (
        has_capability(actor, "permit.read_own")
        and actor.party_id is not None
        and permit.applicant_party_id == actor.party_id
    )


def visible_facilities(actor: Actor, query):
    from registry.models import Facility

    if not _scoped(actor, "facility"):
        return query
    if actor.party_id is None:
        return query.where(False)
    return query.where(Facility.holder_party_id == actor.party_id)


def can_see_facility(actor: Actor, facility) -> bool:
    return not _scoped(actor, "facility") or (actor.party_id is not None and facility.holder_party_id == actor.party_id)


def visible_parties(actor: Actor, query):
    """Parties an actor may pick from: all for officers; for keepers their own party and foreign
    trading partners, never other domestic keepers."""
    from flask import current_app

    from registry.models import Party

    if has_capability(actor, "party.read_all"):
        return query
    return query.where(or_(Party.id == actor.party_id, Party.country != current_app.config["ISSUING_COUNTRY"]))


def visible_transfers(actor: Actor, query):
    """Every transfer for those who see every animal; a keeper's own, on either side."""
    from registry.models import Transfer

    if not _scoped(actor, "animal"):
        return query
    return query.where(
        or_(Transfer.transferor_party_id == actor.party_id, Transfer.transferee_party_id == actor.party_id)
    )


def can_see_transfer(actor: Actor, transfer) -> bool:
    return not _scoped(actor, "animal") or actor.party_id in (
        transfer.transferor_party_id,
        transfer.transferee_party_id,
    )


def sees_transferee(actor: Actor | None, transfer) -> bool:
    """Whether *actor* is told who receives a transfer. A keeper who offers learns it only once the
    transferee has accepted: otherwise offering to any facility id, then cancelling, would tell
    who holds each facility (a facility oracle)."""
    from registry.machines import TransferState

    if actor is None:
        return False
    if not party_bound(actor) or actor.party_id == transfer.transferee_party_id:
        return True
    return transfer.state in (TransferState.ACCEPTED, TransferState.ACKNOWLEDGED)


def offerable_animals(actor: Actor, query):
    """Animals an actor may offer in a transfer: any visible one for officers, the ones a keeper owns
    and holds (one it lent out moves only with its holder)."""
    from registry.models import Animal

    query = visible_animals(actor, query)
    if not _scoped(actor, "animal"):
        return query
    return query.where(Animal.owner_party_id == actor.party_id, Animal.holder_party_id == actor.party_id)


def needs_second_factor(role: str) -> bool:
    return role in SECOND_FACTOR_ROLES
