"""Exchange with partner authorities (EPIX's operations, cites-standards.md §6.2).

A partner is a country's CITES Management Authority or its customs, registered by an operator,
with tokens of its own that open only the exchange endpoints. What each operation shows or does:

- a final document (one we issued): by its number and security token, as on the paper, to a
  partner of a country the document names (ours, the importing or the exporting one);
- a non-final document (an application submitted or approved, not yet issued): by its application
  reference, to a Management Authority of the country on the other side of the trade only;
- confirmed quantities: customs reports what it inspected and cleared, line by line; it is recorded
  by the endorsement service as any customs endorsement is (partly used / used, the foreign
  document ledger, the audit entry), with the partner as the actor. Our own customs confirms on
  any of our documents; a foreign customs on the documents whose goods it receives.

A wrong token and an unknown number are the same NotFound, and every operation is audited.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import pycountry
from flask import current_app
from sqlalchemy import select

from registry import clock
from registry.commands.endorsements import Direction, Endorse, EndorseLine
from registry.commands.exchange import ConfirmQuantities
from registry.extensions import db
from registry.i18n import _
from registry.machines import PermitState
from registry.models import Endorsement, ExchangePartner, ExchangeToken, Permit
from registry.models.base import utcnow
from registry.models.permit import PERMIT_ID_LIMIT
from registry.permissions import Actor, PartnerRole, require
from registry.services import audit, endorsements, tokens
from registry.services.context import write_transaction
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

#: Exchange tokens look unlike API tokens ("wr_"): neither is ever taken for the other.
PREFIX = "wrx_"
DEFAULT_DAYS = 365

#: The applications a partner Management Authority may see before they are issued.
NON_FINAL = (PermitState.SUBMITTED, PermitState.APPROVED)


def _ours() -> str:
    return current_app.config["ISSUING_COUNTRY"]


# ---------------------------------------------------------------- partners and their tokens (operators)


def add_partner(actor: Actor, country: str, name: str, role: str) -> ExchangePartner:
    require(actor, "user.manage")
    country, name = (country or "").strip().upper(), (name or "").strip()
    errors = {}
    if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        errors["country"] = _("an ISO 3166 country code of two letters")
    if not 1 <= len(name) <= 200:
        errors["name"] = _("1 to 200 characters")
    if role not in PartnerRole.__members__.values():
        errors["role"] = _("one of %(values)s", values=", ".join(r.value for r in PartnerRole))
    if errors:
        raise ValidationFailed(_("the partner cannot be added"), errors)
    with write_transaction() as session:
        taken = session.scalar(
            select(ExchangePartner).where(ExchangePartner.country == country, ExchangePartner.role == role)
        )
        if taken is not None:
            raise Conflict(_("%(country)s already has a partner of this role", country=country), {"role": taken.name})
        partner = ExchangePartner(country=country, name=name, role=role)
        session.add(partner)
        session.flush()
        audit.record(actor, "exchange_partner.create", "exchange_partner", partner.id, None, partner.as_audit())
    return partner


def disable_partner(actor: Actor, partner_id: int) -> ExchangePartner:
    """Disable a partner: its tokens stop working at once (they are kept, to be read in the log)."""
    require(actor, "user.manage")
    with write_transaction() as session:
        partner = session.get(ExchangePartner, partner_id)
        if partner is None:
            raise NotFound(_("no such partner"))
        if not partner.enabled:
            raise Conflict(_("the partner is already disabled"))
        before = partner.as_audit()
        partner.enabled = False
        session.flush()
        audit.record(actor, "exchange_partner.disable", "exchange_partner", partner.id, before, partner.as_audit())
    return partner


def fingerprint(text: str | None) -> str | None:
    """A certificate's SHA-1 fingerprint as nginx gives it (40 hex digits), colons and case aside;
    None when *text* is not one."""
    hexdigits = (text or "").replace(":", "").strip().lower()
    return hexdigits if len(hexdigits) == 40 and all(c in "0123456789abcdef" for c in hexdigits) else None


def set_certificate(actor: Actor, partner_id: int, given: str | None) -> ExchangePartner:
    """Set (or, with None, clear) the fingerprint of the partner's TLS client certificate."""
    require(actor, "user.manage")
    value = fingerprint(given) if given is not None else None
    if given is not None and value is None:
        raise ValidationFailed(
            _("the certificate cannot be set"), {"cert_fingerprint": _("a SHA-1 fingerprint: 40 hex digits")}
        )
    with write_transaction() as session:
        partner = session.get(ExchangePartner, partner_id)
        if partner is None:
            raise NotFound(_("no such partner"))
        holder = session.scalar(select(ExchangePartner).where(ExchangePartner.cert_fingerprint == value))
        if value is not None and holder is not None and holder.id != partner.id:
            raise Conflict(_("another partner has this certificate"), {"cert_fingerprint": holder.name})
        before = partner.as_audit()
        partner.cert_fingerprint = value
        session.flush()
        audit.record(actor, "exchange_partner.certificate", "exchange_partner", partner.id, before, partner.as_audit())
    return partner


def partner_by_certificate(given: str) -> ExchangePartner | None:
    """The enabled partner whose client certificate a trusted proxy verified and named."""
    value = fingerprint(given)
    if value is None:
        return None
    partner = db.session.scalar(select(ExchangePartner).where(ExchangePartner.cert_fingerprint == value))
    return partner if partner is not None and partner.enabled else None


def partners() -> Sequence[ExchangePartner]:
    return db.session.scalars(select(ExchangePartner).order_by(ExchangePartner.country, ExchangePartner.role)).all()


def issue_token(actor: Actor, partner_id: int, name: str, days: int = DEFAULT_DAYS) -> tuple[ExchangeToken, str]:
    """A new token for the partner; returns it and its secret (shown this once, stored hashed)."""
    require(actor, "user.manage")
    name, errors = tokens.name_and_days_errors(name, days)
    if errors:
        raise ValidationFailed(_("the token cannot be created"), errors)
    secret, kept = tokens.mint(PREFIX, days)
    with write_transaction() as session:
        partner = session.get(ExchangePartner, partner_id)
        if partner is None or not partner.enabled:
            raise NotFound(_("no such partner"))
        token = ExchangeToken(partner_id=partner.id, name=name, **kept)
        session.add(token)
        session.flush()
        audit.record(actor, "exchange_token.create", "exchange_token", token.id, None, token.as_audit())
    return token, secret


def revoke_token(actor: Actor, token_id: int) -> ExchangeToken:
    require(actor, "user.manage")
    with write_transaction() as session:
        token = session.get(ExchangeToken, token_id)
        if token is None:
            raise NotFound(_("no such token"))
        if token.revoked_at is not None:
            raise Conflict(_("the token is already revoked"))
        before = token.as_audit()
        token.revoked_at = utcnow()
        session.flush()
        audit.record(actor, "exchange_token.revoke", "exchange_token", token.id, before, token.as_audit())
    return token


def tokens_of(partner_id: int) -> Sequence[ExchangeToken]:
    return db.session.scalars(
        select(ExchangeToken).where(ExchangeToken.partner_id == partner_id).order_by(ExchangeToken.id)
    ).all()


def valid_token(secret: str) -> ExchangeToken | None:
    """The unexpired, unrevoked token of an enabled partner *secret* is; None otherwise."""
    token = tokens.live(ExchangeToken, PREFIX, secret)
    return token if token is not None and token.partner.enabled else None


# ---------------------------------------------------------------- the operations (partners)


def _partner(actor: Actor) -> ExchangePartner:
    partner = db.session.get(ExchangePartner, actor.partner_id) if actor.partner_id is not None else None
    if partner is None:
        raise Forbidden(_("only a partner authority uses the exchange"), "exchange.partner")
    return partner


def _final(actor: Actor, number: str, token: str, country: str) -> Permit:
    """Our issued document with this number and security token, if the partner's country is on it.

    Every refusal is the same NotFound: a partner cannot tell a wrong token from an unknown number."""
    partner = _partner(actor)
    permit = None
    if (country or "").strip().upper() == _ours():
        permit = db.session.scalar(
            select(Permit).where(Permit.issuing_country == _ours(), Permit.number == (number or "").strip().upper())
        )
    if (
        permit is None
        or permit.security_token is None
        or not token
        or not hmac.compare_digest(permit.security_token.encode(), token.encode())
        or partner.country not in (_ours(), permit.import_country, permit.export_country)
    ):
        raise NotFound(_("no document with this number and security code"))
    return permit


def final_document(actor: Actor, number: str, token: str, country: str, fmt: str = "json") -> Permit:
    """GetFinalCitesCertificate: the document, audited as read by the partner."""
    require(actor, "permit.read_all")
    permit = _final(actor, number, token, country)
    with write_transaction():
        audit.record(
            actor, "exchange.final_document", "permit", permit.id, None, {"number": permit.number, "format": fmt}
        )
    return permit


def other_side(permit: Permit) -> str:
    """The country on the other side of the trade: the exporter of an import, the importer otherwise."""
    return permit.export_country if permit.direction == "import" else permit.import_country


def non_final_document(actor: Actor, reference: str, country: str, fmt: str = "json") -> Permit:
    """GetNonFinalCitesCertificate: an application under way, for the Management Authority of the
    country on its other side (which may have to issue or check its own permit first)."""
    require(actor, "permit.read_all")
    partner = _partner(actor)
    permit = None
    reference = (reference or "").strip()
    # Ids are 32-bit: a larger number names nothing (and PostgreSQL would refuse to compare it).
    if (
        reference.isascii()
        and reference.isdigit()
        and int(reference) <= PERMIT_ID_LIMIT
        and (country or "").strip().upper() == _ours()
    ):
        permit = db.session.get(Permit, int(reference))
    if (
        permit is None
        or partner.role != PartnerRole.MANAGEMENT_AUTHORITY
        or permit.state not in NON_FINAL
        or other_side(permit) != partner.country
    ):
        raise NotFound(_("no application with this reference for your country"))
    with write_transaction():
        audit.record(
            actor, "exchange.non_final_document", "permit", permit.id, None, {"state": permit.state, "format": fmt}
        )
    return permit


def confirm_quantities(actor: Actor, command: ConfirmQuantities) -> Endorsement:
    """ConfirmQuantities: our customs (the single window) reports what it cleared at our border;
    recorded as a customs endorsement, box 14.

    Only this country's customs: box 14 is what crossed *our* border. A foreign customs reporting
    what arrived on one of our exports would be recorded as our exit, at its port, and count the
    consignment twice when our officers endorse its real exit; such arrival reports are not taken
    until they have a record of their own.

    :raises Forbidden: the partner is not customs.
    :raises NotFound: no such document (or the token is wrong), or the partner is not our customs.
    :raises Conflict: the permit may not be used (state, validity), or a line would exceed what is
        left; nothing is written.
    :raises ValidationFailed: a line that is not on the document, or live animals leaving.
    """
    require(actor, "permit.endorse")
    partner = _partner(actor)
    permit = _final(actor, command.number, command.token, command.country)
    if partner.country != _ours():
        raise NotFound(_("no document with this number and security code"))
    direction = Direction.ENTRY if permit.direction == "import" else Direction.EXIT
    by_no = {line.line_no: line for line in permit.lines}
    live_exits = {
        f"ConfirmedQuantities.CitesPosition.{i}.ID": _(
            "live animals leaving the country are named one by one by a customs officer at exit"
        )
        for i, p in enumerate(command.positions)
        if direction == Direction.EXIT and p.line_no in by_no and by_no[p.line_no].term_code == endorsements.LIVE
    }
    if live_exits:
        raise ValidationFailed(_("the confirmation has errors"), live_exits)
    where = f"{partner.name} ({partner.country})"
    return endorsements.endorse(
        actor,
        permit.id,
        Endorse(
            direction=direction,
            port=(command.port or where)[:200],
            transport_doc=command.transport_doc or "-",
            lines=tuple(EndorseLine(line_no=p.line_no, quantity=p.quantity) for p in command.positions),
            endorsed_on=clock.today(),
            foreign_permit_no=command.export_permit_no,
            foreign_permit_date=command.export_permit_date,
        ),
    )


def service_state(actor: Actor, country: str) -> dict:
    """ServiceState: whether the exchange of *country* answers here (it is ours).

    Not audited: it discloses nothing, and a partner's monitoring calls it every minute, which
    would fill the audit log with pings (the request log keeps them)."""
    _partner(actor)
    ours = (country or "").strip().upper() == _ours()
    return {"IsoCountryCode": _ours(), "available": ours, "time": utcnow()}
