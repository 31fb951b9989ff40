"""Demo data, created through the same services a user would go through (so the audit chain is real)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import select

from registry import clock
from registry.extensions import db
from registry.models import Species, User
from registry.permissions import Actor
from registry.services import animals, endorsements, facilities, permits, reference, transfers, users

PASSWORD = "demo-password-2026"
LOGINS = [
    ("admin", "admin"),
    ("officer", "ministry_officer"),
    ("officer2", "ministry_officer"),
    ("customs", "customs_officer"),
    ("zoo", "keeper"),
    ("breeder", "keeper"),
    ("auditor", "auditor"),
]


def _species(name: str) -> int:
    found = db.session.scalar(select(Species.id).where(Species.scientific_name == name))
    if found is None:
        raise RuntimeError(f"demo needs {name} in the species list")
    return found


def _issued(actor: dict, application: dict, applicant: str = "zoo"):
    p = permits.create_application(actor[applicant], application)
    permits.fire(actor[applicant], p.id, "submit")
    permits.fire(actor["officer"], p.id, "approve")
    return permits.fire(actor["officer2"], p.id, "issue")


def _animals_of(permit) -> Sequence[int]:
    from registry.models import Animal

    return db.session.scalars(
        select(Animal.id).where(Animal.permit_line_id == permit.lines[0].id).order_by(Animal.id)
    ).all()


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

    zoo_site = facilities.register_facility(
        operator,
        "KR-FAC-2024-0001",
        "Seoul Grand Park, bird house",
        zoo,
        "Gwacheon-si, Gyeonggi-do",
        {parrot: 20, python: 6, tortoise: 10},
    ).id
    breeder_site = facilities.register_facility(
        operator, "KR-FAC-2025-0417", "Kim Minji parrot aviary", breeder, "Suwon, Gyeonggi-do", {parrot: 6, tortoise: 4}
    ).id
    facilities.register_facility(
        operator,
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
        )
    actor = {u.username: Actor.for_user(u) for u in db.session.scalars(select(User))}

    # Last year: two ball pythons came in and the permit was closed; another permit was never used.
    year_ago = date.today() - timedelta(days=400)
    snakes = {
        "doc_type": "import",
        "importer_party_id": zoo,
        "exporter_party_id": exporter,
        "import_country": "KR",
        "export_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "ZA-EXP-2025-00412",
        "lines": [{"species_id": python, "term_code": "LIV", "quantity": "2"}],
    }
    with clock.on(year_ago):
        old = _issued(actor, snakes)
        endorsements.endorse(
            actor["customs"],
            old.id,
            {
                "direction": "entry",
                "port": "Incheon International Airport (KRICN)",
                "transport_doc": "AWB 180-55501234",
                "lines": [
                    {
                        "line_no": 1,
                        "quantity": "2",
                        "animals": [
                            {"sex": "M", "identifiers": [{"kind": "microchip", "value": "410100000000201"}]},
                            {"sex": "F", "identifiers": [{"kind": "microchip", "value": "410100000000202"}]},
                        ],
                    }
                ],
            },
        )
        for snake in _animals_of(old):
            animals.fire(actor["zoo"], snake, "register", {"facility_id": zoo_site})
        permits.fire(actor["officer"], old.id, "close")
    with clock.on(year_ago + timedelta(days=20)):
        _issued(actor, {**snakes, "foreign_permit_no": "ZA-EXP-2025-00533"})
    with clock.on(year_ago + timedelta(days=60)):
        # One python died and nobody recorded the disposal of its carcass: overdue ever since.
        animals.fire(actor["zoo"], _animals_of(old)[1], "death", {"cause": "Respiratory infection"})
    permits.expire_due(operator)

    # An import of three grey parrots, from application to a bird in the aviary.
    application = {
        "doc_type": "import",
        "importer_party_id": zoo,
        "exporter_party_id": exporter,
        "import_country": "KR",
        "export_country": "ZA",
        "origin_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "ZA-EXP-2026-00871",
        "lines": [{"species_id": parrot, "term_code": "LIV", "quantity": "3", "description": "3 live, ringed"}],
    }
    imp = permits.create_application(actor["zoo"], application)
    permits.fire(actor["zoo"], imp.id, "submit")
    permits.fire(actor["officer"], imp.id, "approve")
    permits.fire(
        actor["officer2"], imp.id, "issue", {"special_conditions": "Transport under the IATA Live Animals Regulations."}
    )
    line = imp.lines[0].id
    for i, chip in enumerate(("410100000012345", "410100000012346", "410100000012347")):
        animals.declare(actor["zoo"], line, {"sex": "MFF"[i], "identifiers": [{"kind": "microchip", "value": chip}]})
    endorsements.endorse(
        actor["customs"],
        imp.id,
        {
            "direction": "entry",
            "port": "Incheon International Airport (KRICN)",
            "transport_doc": "AWB 180-12345675",
            "lines": [{"line_no": 1, "quantity": "3"}],
        },
    )
    birds = _animals_of(imp)
    today = date.today()
    for bird in birds:
        animals.fire(actor["zoo"], bird, "register", {"facility_id": zoo_site})
    # Two birds go to the breeder (offered, accepted, acknowledged), who reports a chick; one bird dies.
    offer = transfers.start(
        actor["zoo"], {"animal_ids": birds[:2], "facility_id": breeder_site, "note": "breeding pair"}
    )
    transfers.act(actor["breeder"], "accept", code=offer.code)
    transfers.act(actor["officer"], "acknowledge", offer.id)
    animals.register_birth(
        actor["breeder"],
        {
            "species_id": parrot,
            "facility_id": breeder_site,
            "sire_id": birds[0],
            "dam_id": birds[1],
            "birth_date": (today - timedelta(days=3)).isoformat(),
            "source_code": "C",
            "identifiers": [{"kind": "closed_ring", "value": "KR-PE-2026-0001"}],
        },
    )
    animals.fire(actor["zoo"], birds[2], "death", {"cause": "Aspergillosis", "disease_suspected": True})
    animals.fire(
        actor["zoo"],
        birds[2],
        "dispose",
        {
            "method": "incineration",
            "handler": "Gyeonggi Animal Cremation Co.",
            "licence_no": "GG-2023-118",
            "place": "Yongin",
            "witness": "Dr. Lee (zoo veterinarian)",
        },
    )

    # Applications at other steps, for each role's task list.
    export = permits.create_application(
        actor["officer"],
        {
            "doc_type": "export",
            "applicant_party_id": zoo,
            "importer_party_id": buyer,
            "exporter_party_id": zoo,
            "import_country": "DE",
            "export_country": "KR",
            "purpose_code": "Z",
            "source_code": "C",
            "lines": [{"species_id": tortoise, "term_code": "LIV", "quantity": "2"}],
        },
    )
    permits.fire(actor["officer"], export.id, "submit")
    permits.create_application(
        actor["breeder"],
        {
            "doc_type": "import",
            "exporter_party_id": exporter,
            "import_country": "KR",
            "export_country": "ZA",
            "purpose_code": "B",
            "source_code": "C",
            "foreign_permit_no": "ZA-EXP-2026-01102",
            "lines": [{"species_id": parrot, "quantity": "2"}],
        },
    )
    _issued(
        actor,
        {
            **application,
            "importer_party_id": breeder,
            "foreign_permit_no": "ZA-EXP-2026-00977",
            "lines": [{"species_id": parrot, "term_code": "LIV", "quantity": "2"}],
        },
        applicant="breeder",
    )
    cancelled = permits.create_application(actor["zoo"], {**application, "foreign_permit_no": "ZA-EXP-2026-00901"})
    permits.fire(actor["zoo"], cancelled.id, "submit")
    permits.fire(actor["officer"], cancelled.id, "approve")
    permits.fire(actor["officer"], cancelled.id, "issue")
    permits.fire(actor["officer2"], cancelled.id, "cancel", {"reason": "Exporter withdrew the shipment."})
    return True
