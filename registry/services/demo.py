"""Demo data, created through the same services a user would go through (so the audit chain is real)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from registry import clock
from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.commands import facilities as facility_commands
from registry.commands import transfers as transfer_commands
from registry.commands.endorsements import Direction, Endorse, EndorseLine, Outcome
from registry.commands.permits import Application, ApplicationLine, PermitAction
from registry.extensions import db
from registry.models import Species, User
from registry.permissions import Actor, Role
from registry.services import (
    animals,
    applications,
    arrivals,
    endorsements,
    facilities,
    permits,
    reference,
    transfers,
    users,
)  # fmt: skip

PASSWORD = "demo-password-2026"
#: Animals in the default demo: enough for every state of every lifecycle (``services.scale``).
ANIMALS = 300
#: The demo's staff accounts share this authenticator key (printed by ``registry demo``), so that
#: whoever tries the demo can add it to an app; real accounts each enrol their own at first login.
TOTP_SECRET = "DEMODEMODEMODEMODEMODEMODEMODEMO"
#: The regional office of each demo officer.
OFFICES = {"officer": "han-river", "officer2": "geum-river"}
LOGINS = [
    ("admin", Role.ADMIN),
    ("officer", Role.MINISTRY_OFFICER),
    ("officer2", Role.MINISTRY_OFFICER),
    ("customs", Role.CUSTOMS_OFFICER),
    ("zoo", Role.KEEPER),
    ("breeder", Role.KEEPER),
    ("auditor", Role.AUDITOR),
]


def _species(name: str) -> int:
    found = db.session.scalar(select(Species.id).where(Species.scientific_name == name))
    if found is None:
        raise RuntimeError(f"demo needs {name} in the species list")
    return found


def _line(species_id: int, quantity: int, description: str | None = None) -> tuple[ApplicationLine, ...]:
    return (ApplicationLine(species_id=species_id, quantity=Decimal(quantity), description=description),)


def _act(actor: Actor, permit_id: int, event: str, **fields):
    return permits.record_permit_event(actor, permit_id, event, PermitAction(**fields))


def _issued(actor: dict, application: Application, applicant: str = "zoo", **issue):
    p = applications.create_application(actor[applicant], application)
    _act(actor[applicant], p.id, "submit")
    _act(actor["officer"], p.id, "approve")
    return _act(actor["officer2"], p.id, "issue", **issue)


def _entry(port: str, transport_doc: str, *lines: EndorseLine) -> Endorse:
    return Endorse(direction=Direction.ENTRY, port=port, transport_doc=transport_doc, lines=lines)


def _animals_of(permit) -> Sequence[int]:
    from registry.models import Animal

    return db.session.scalars(
        select(Animal.id).where(Animal.permit_line_id == permit.lines[0].id).order_by(Animal.id)
    ).all()


def _enrol_staff() -> None:
    from flask import current_app

    from registry import totp
    from registry.models.base import utcnow
    from registry.permissions import needs_second_factor
    from registry.services.context import write_transaction

    with write_transaction():
        for user in db.session.scalars(select(User)):
            if needs_second_factor(user.role) and user.totp_enrolled_at is None:
                user.totp_secret = totp.seal(TOTP_SECRET, current_app.config["SECRET_KEY"])
                user.totp_enrolled_at = utcnow()


def load(operator: Actor) -> bool:
    """Create the demo world; returns False when it is already there."""
    if db.session.scalar(select(User.id).where(User.username == "auditor")) is not None:
        return False
    if db.session.scalar(select(User.id).where(User.username == "admin")) is not None:
        raise RuntimeError("a previous demo load stopped half-way; start from an empty database")
    reference.load_curated_species(operator)
    parrot, python, tortoise = (_species(n) for n in ("Psittacus erithacus", "Python regius", "Testudo hermanni"))

    party = lambda *a, **k: reference.create_party(operator, *a, **k).id  # noqa: E731
    authority = party(
        "organisation",
        "Han River Basin Environmental Office (한강유역환경청)",
        registration_no="GOV-HANRIVER",
        address="Hanam, Gyeonggi-do",
    )
    zoo = party(
        "organisation",
        "Seoul Grand Park Zoo (서울대공원 동물원)",
        registration_no="138-82-00001",
        address="102 Daegongwongwangjang-ro, Gwacheon-si, Gyeonggi-do",
    )
    breeder = party("person", "Kim Minji (김민지)", registration_no="DEMO-P-0002", address="Suwon, Gyeonggi-do")
    exporter = party(
        "organisation",
        "Afrika Aviaries Ltd",
        country="ZA",
        registration_no="ZA-2019-4411",
        address="Pretoria, South Africa",
    )
    buyer = party(
        "organisation", "Tierpark Nord GmbH", country="DE", registration_no="DE-HRB-77120", address="Hamburg, Germany"
    )

    def site(registration_no: str, name: str, holder: int, address: str, capacities: dict[int, int]) -> int:
        allowances = tuple(facility_commands.Allowance(s, c) for s, c in capacities.items())
        registration = facility_commands.Registration(
            registration_no=registration_no, name=name, holder_party_id=holder, address=address, allowances=allowances
        )
        return facilities.register_facility(operator, registration).id

    zoo_site = site(
        "KR-FAC-2024-0001",
        "Seoul Grand Park, bird house",
        zoo,
        "Gwacheon-si, Gyeonggi-do",
        {parrot: 20, python: 6, tortoise: 10},
    )
    breeder_site = site(
        "KR-FAC-2025-0417", "Kim Minji parrot aviary", breeder, "Suwon, Gyeonggi-do", {parrot: 6, tortoise: 4}
    )
    site(
        "KR-FAC-GOV-0001",
        "National wildlife rescue centre",
        authority,
        "Seocheon, Chungcheongnam-do",
        {parrot: 50, python: 20, tortoise: 50},
    )

    for username, role_name in LOGINS:
        users.create_user(
            operator,
            username,
            PASSWORD,
            role_name,
            display_name=username.title(),
            party_id={"zoo": zoo, "breeder": breeder}.get(username),
            # The officers issue for their regional office (box 6).
            office_code=OFFICES.get(username),
        )
    _enrol_staff()
    actor = {u.username: Actor.for_user(u) for u in db.session.scalars(select(User))}

    # Last year: two ball pythons came in and the permit was closed; another permit was never used.
    year_ago = date.today() - timedelta(days=400)
    snakes = Application(
        doc_type="import",
        importer_party_id=zoo,
        exporter_party_id=exporter,
        import_country="KR",
        export_country="ZA",
        purpose_code="Z",
        source_code="C",
        foreign_permit_no="ZA-EXP-2025-00412",
        foreign_permit_date=year_ago - timedelta(days=21),
        lines=_line(python, 2),
    )
    airport = "Incheon International Airport (KRICN)"
    with clock.on(year_ago):
        old = _issued(actor, snakes)
        arrived = tuple(
            arrival.Declaration(sex=sex, identifiers=(arrival.NewIdentifier("microchip", chip),))
            for sex, chip in (("M", "410100000000201"), ("F", "410100000000202"))
        )
        endorsements.endorse(
            actor["customs"],
            old.id,
            _entry(airport, "AWB 180-55501234", EndorseLine(line_no=1, quantity=Decimal(2), animals=arrived)),
        )
        for snake in _animals_of(old):
            animals.record_animal_event(actor["zoo"], snake, commands.Register(facility_id=zoo_site))
        _act(actor["officer"], old.id, "close")
    with clock.on(year_ago + timedelta(days=20)):
        _issued(actor, replace(snakes, foreign_permit_no="ZA-EXP-2025-00533", foreign_permit_date=year_ago))
    with clock.on(year_ago + timedelta(days=60)):
        # One python died and nobody recorded the disposal of its carcass: overdue ever since.
        animals.record_animal_event(actor["zoo"], _animals_of(old)[1], commands.Death(cause="Respiratory infection"))
    permits.expire_due(operator)

    # An import of three grey parrots, from application to a bird in the aviary.
    application = Application(
        doc_type="import",
        importer_party_id=zoo,
        exporter_party_id=exporter,
        import_country="KR",
        export_country="ZA",
        origin_country="ZA",
        purpose_code="Z",
        source_code="C",
        foreign_permit_no="ZA-EXP-2026-00871",
        foreign_permit_date=date.today() - timedelta(days=12),
        lines=_line(parrot, 3, "3 live, ringed"),
    )
    imp = _issued(actor, application, special_conditions="Transport under the IATA Live Animals Regulations.")
    line = imp.lines[0].id
    for i, chip in enumerate(("410100000012345", "410100000012346", "410100000012347")):
        mark = arrival.NewIdentifier("microchip", chip)
        arrivals.declare(actor["zoo"], line, arrival.Declaration(sex="MFF"[i], identifiers=(mark,)))
    endorsements.endorse(
        actor["customs"],
        imp.id,
        _entry(airport, "AWB 180-12345675", EndorseLine(line_no=1, quantity=Decimal(3), outcome=Outcome.CLEARED)),
    )
    birds = _animals_of(imp)
    today = date.today()
    for bird in birds:
        animals.record_animal_event(actor["zoo"], bird, commands.Register(facility_id=zoo_site))
    # Two birds go to the breeder (offered, accepted, acknowledged), who reports a chick; one bird dies.
    offer = transfers.start(
        actor["zoo"],
        transfer_commands.Offer(animal_ids=tuple(birds[:2]), facility_id=breeder_site, note="breeding pair"),
    )
    transfers.answer_by_code(
        actor["breeder"], transfer_commands.Handshake(code=offer.code, answer=transfer_commands.Accept())
    )
    transfers.record_transfer_event(actor["officer"], offer.id, transfer_commands.Acknowledge())
    chick = arrival.Birth(
        species_id=parrot,
        facility_id=breeder_site,
        sire_id=birds[0],
        dam_id=birds[1],
        birth_date=today - timedelta(days=3),
        source_code="C",
        identifiers=(arrival.NewIdentifier("closed_ring", "KR-PE-2026-0001"),),
    )
    arrivals.register_birth(actor["breeder"], chick)
    animals.record_animal_event(actor["zoo"], birds[2], commands.Death(cause="Aspergillosis", disease_suspected=True))
    disposal = commands.Dispose(
        method=commands.DisposalMethod.INCINERATION,
        handler="Gyeonggi Animal Cremation Co.",
        licence_no="GG-2023-118",
        place="Yongin",
        witness="Dr. Lee (zoo veterinarian)",
    )
    animals.record_animal_event(actor["zoo"], birds[2], disposal)

    # Applications at other steps, for each role's task list.
    export = applications.create_application(
        actor["officer"],
        Application(
            doc_type="export",
            applicant_party_id=zoo,
            importer_party_id=buyer,
            exporter_party_id=zoo,
            import_country="DE",
            export_country="KR",
            purpose_code="Z",
            source_code="C",
            lines=_line(tortoise, 2),
        ),
    )
    _act(actor["officer"], export.id, "submit")
    applications.create_application(
        actor["breeder"],
        Application(
            doc_type="import",
            exporter_party_id=exporter,
            import_country="KR",
            export_country="ZA",
            purpose_code="B",
            source_code="C",
            foreign_permit_no="ZA-EXP-2026-01102",
            lines=_line(parrot, 2),
        ),
    )
    _issued(
        actor,
        replace(application, importer_party_id=breeder, foreign_permit_no="ZA-EXP-2026-00977", lines=_line(parrot, 2)),
        applicant="breeder",
    )
    cancelled = applications.create_application(
        actor["zoo"], replace(application, foreign_permit_no="ZA-EXP-2026-00901")
    )
    _act(actor["zoo"], cancelled.id, "submit")
    _act(actor["officer"], cancelled.id, "approve")
    _act(actor["officer2"], cancelled.id, "issue")
    _act(actor["officer2"], cancelled.id, "cancel", reason="Exporter withdrew the shipment.")
    return True


def count_animals() -> int:
    from sqlalchemy import func

    from registry.models import Animal

    return db.session.scalar(select(func.count()).select_from(Animal)) or 0
