"""Administration: accounts and reference data. Every change is audited like any other."""

from __future__ import annotations

from registry import deadlines, offices
from registry.i18n import _
from registry.models import DeadlineSetting, NationalCategory, Party, Species, User
from registry.permissions import Actor, Role, may_change_role, needs_party, require
from registry.services import audit, reference, sessions, tokens
from registry.services.context import write_transaction
from registry.services.errors import NotFound, ValidationFailed

SPECIES_FIELDS = (
    "author",
    "taxon_class",
    "taxon_order",
    "family",
    "appendix",
    "annotation",
    "name_en",
    "name_ko",
    "national_category_code",
    "listed_on",
    "listing_countries",
    "distribution",
    "populations",
)


def update_user(
    actor: Actor, user_id: int, role: str, party_id: int | None, display_name: str, office_code: str | None = None
) -> User:
    """Change an account's role, the party it acts for, its name and office (the office that
    issues what an officer issues, box 6); a role change ends its sessions."""
    require(actor, "user.manage")
    errors = {}
    if role not in Role.__members__.values():
        errors["role"] = _("one of %(values)s", values=", ".join(r.value for r in Role))
    if needs_party(role) and party_id is None:
        errors["party_id"] = _("a keeper must be linked to their party")
    if not (display_name or "").strip():
        errors["display_name"] = _("required")
    office_problem = offices.refusal(office_code)
    if office_problem:
        errors["office_code"] = office_problem
    if errors:
        raise ValidationFailed(_("the account cannot be changed"), errors)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("no such user"))
        if party_id is not None and session.get(Party, party_id) is None:
            raise ValidationFailed(_("unknown party"), {"party_id": _("no such party")})
        if not may_change_role(actor, user, role):
            raise ValidationFailed(
                _("the account cannot be changed"), {"role": _("administrators do not change their own role")}
            )
        before = user.as_audit()
        rights_changed = (user.role, user.party_id) != (role, party_id)
        if rights_changed:
            user.session_epoch += 1  # new rights take effect at the next login
        user.role, user.party_id, user.display_name = role, party_id, display_name.strip()
        user.office_code = office_code or None
        session.flush()
        audit.record(actor, "user.update", "user", user.id, before, user.as_audit())
        if rights_changed:  # new rights are used only after a new login, and new tokens
            sessions.end_all(actor, user.id, sessions.EndReason.ROLE)
            tokens.revoke_all(actor, user.id)
    return user


def correct_species(actor: Actor, species_id: int, changes: dict) -> Species:
    """Correct a species' reference data (names, taxonomy, appendix, national category)."""
    require(actor, "species.manage")
    unknown = set(changes) - set(SPECIES_FIELDS)
    if unknown:
        raise ValidationFailed(_("unknown fields"), {name: _("not a species field") for name in unknown})
    if "appendix" in changes and changes["appendix"] not in ("I", "II", "III"):
        raise ValidationFailed(_("bad appendix"), {"appendix": _("I, II or III")})
    with write_transaction() as session:
        sp = session.get(Species, species_id)
        if sp is None:
            raise NotFound(_("no such species"))
        code = changes.get("national_category_code")
        if code and session.get(NationalCategory, code) is None:
            raise ValidationFailed(_("unknown category"), {"national_category_code": _("no such national category")})
        before = sp.as_audit()
        for name, value in _listing(sp.scientific_name, changes).items():
            if name == "populations":
                reference.set_populations(sp, value)
            else:
                setattr(sp, name, (value.strip() or None) if isinstance(value, str) else value)
        session.flush()
        audit.record(actor, "species.update", "species", sp.id, before, sp.as_audit())
    return sp


def _listing(name: str, changes: dict) -> dict:
    """*changes* with the listing fields read from their text: the first listing date, the ISO
    codes of the listing and range States, the split listing; ValidationFailed naming the field."""
    countries = _("ISO 3166-1 alpha-2 country codes, separated by spaces")
    readers = {
        "listed_on": (reference.read_day, _("a date as YYYY-MM-DD")),
        "listing_countries": (reference.read_countries, countries),
        "distribution": (reference.read_countries, countries),
        "populations": (reference.parse_populations, _("populations written as BW NA ZA ZW:II; IN:I")),
    }
    read = dict(changes)
    for field, (reader, shape) in readers.items():
        if field in read and (isinstance(read[field], str) or read[field] is None):
            try:
                read[field] = reader(name, read[field])
            except ValueError:
                raise ValidationFailed(_("the species has errors"), {field: shape}) from None
    return read


def set_deadline_days(actor: Actor, code: str, days: int) -> None:
    """Set how many days a deadline rule gives (the default comes from registry/deadlines.py)."""
    require(actor, "species.manage")
    if code not in deadlines.BY_CODE:
        raise NotFound(_("no such deadline rule"))
    if not isinstance(days, int) or not 0 <= days <= 3650:
        raise ValidationFailed(_("bad number of days"), {"days": _("0 to 3650")})
    with write_transaction() as session:
        row = session.get(DeadlineSetting, code)
        before = {"days": row.days if row else deadlines.BY_CODE[code].days}
        if row is None:
            session.add(DeadlineSetting(code=code, days=days))
        else:
            row.days = days
        session.flush()
        audit.record(actor, "deadline.update", "deadline_rule", code, before, {"days": days})


def deadline_days() -> dict[str, int]:
    from sqlalchemy import select

    from registry.extensions import db

    return dict(db.session.execute(select(DeadlineSetting.code, DeadlineSetting.days)).all())
