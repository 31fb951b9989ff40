"""The number of SQL statements a page or an endpoint sends does not grow with the rows it shows.

Each test measures one request with a few rows, adds more rows of the same shape (each naming its
own species, parties, facilities, so a lazy load per row would show), and measures it again: the
counts must be equal. A warm-up request first, so per-process caches do not count.
"""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.extensions import db
from registry.models import (
    Animal,
    AnimalEvent,
    Facility,
    FacilitySpecies,
    Identifier,
    Keeping,
    Party,
    Permit,
    PermitLine,
    Transfer,
)
from registry.services import reference
from registry.services.context import write_transaction
from tests.conftest import species
from tests.querycount import count_statements

_N = itertools.count(1)


def _party(prefix: str) -> int:
    p = Party(kind="organisation", name=f"{prefix} {next(_N)}")
    db.session.add(p)
    db.session.flush()
    return p.id


def add_animals(w, n: int, identifiers: int = 1, **fields) -> list[int]:
    """*n* animals, each of its own species and keeper, with *identifiers* marks each."""
    ids = []
    with write_transaction():
        for _ in range(n):
            k = next(_N)
            keeper = _party("Keeper")
            values = {
                "registry_no": f"KR-T-2026-{k:06d}",
                "species_id": species(f"Species {k}"),
                "state": "in_captivity",
                "sex": "F",
                "source_code": "C",
                "owner_party_id": keeper,
                "holder_party_id": keeper,
                "facility_id": w.zoo_site,
            }
            values.update(fields)
            a = Animal(**values)
            db.session.add(a)
            db.session.flush()
            for i in range(identifiers):
                db.session.add(Identifier(animal_id=a.id, kind="microchip", value=f"4100{k:08d}{i:03d}"))
            ids.append(a.id)
    return ids


def add_permits(w, n: int) -> None:
    with write_transaction():
        for _ in range(n):
            p = Permit(
                doc_type="import",
                state="draft",
                issuing_country="KR",
                applicant_party_id=_party("Applicant"),
                importer_party_id=_party("Importer"),
                exporter_party_id=_party("Exporter"),
                import_country="KR",
                export_country="ZA",
                purpose_code="Z",
                source_code="C",
            )
            db.session.add(p)
            db.session.flush()
            db.session.add(
                PermitLine(permit_id=p.id, line_no=1, species_id=w.parrot, appendix="I", term_code="LIV", quantity=1)
            )


def add_facilities(n: int) -> None:
    with write_transaction():
        for _ in range(n):
            k = next(_N)
            f = Facility(registration_no=f"F-T-{k}", name=f"Site {k}", holder_party_id=_party("Holder"), address="x")
            f.status = "registered"
            db.session.add(f)
            db.session.flush()
            db.session.add(FacilitySpecies(facility_id=f.id, species_id=species(f"Kept {k}"), capacity=3))


def statements(client, path: str, headers=None) -> int:
    with count_statements(db.engine) as seen:
        answer = client.get(path, headers=headers or {})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return seen


def same_count(client, path: str, grow, headers=None) -> None:
    """The request costs as many statements after *grow* adds rows as before it."""
    statements(client, path, headers)  # warm-up
    few = statements(client, path, headers)
    grow()
    many = statements(client, path, headers)
    assert many.count == few.count, f"{few.count} statements with few rows, {many.count} with many:\n{many}"


def test_animals_list(client, login, world):
    login(world.users["officer"])
    add_animals(world, 3)
    same_count(client, "/animals/", lambda: add_animals(world, 27))


def test_animals_api_list(client, api, world):
    add_animals(world, 3, identifiers=2)
    headers = {"Authorization": f"Bearer {api.secrets['officer']}"}
    same_count(client, "/api/v1/animals?limit=50", lambda: add_animals(world, 27, identifiers=2), headers)


def test_permits_list_and_api(client, login, world):
    login(world.users["officer"])
    add_permits(world, 3)
    same_count(client, "/permits/", lambda: add_permits(world, 10))


def test_permits_api_list(client, api, world):
    add_permits(world, 3)
    headers = {"Authorization": f"Bearer {api.secrets['officer']}"}
    same_count(client, "/api/v1/permits?limit=50", lambda: add_permits(world, 10), headers)


def test_facilities_list_and_api(client, login, api, world):
    add_facilities(2)
    headers = {"Authorization": f"Bearer {api.secrets['officer']}"}
    same_count(client, "/api/v1/facilities?limit=50", lambda: add_facilities(10), headers)
    login(world.users["officer"])
    same_count(client, "/facilities/", lambda: add_facilities(10))


@pytest.fixture
def family(world):
    """A dam, and a way to give her more offspring and marks."""
    (dam,) = add_animals(world, 1)

    def grow(n: int) -> None:
        add_animals(world, n, dam_id=dam)
        with write_transaction():
            for i in range(n):
                db.session.add(Identifier(animal_id=dam, kind="closed_ring", value=f"R-{dam}-{next(_N)}-{i}"))
                # A timeline event and a keeping period naming a party and a facility of their own.
                party = _party("Owner")
                site = Facility(registration_no=f"F-F-{next(_N)}", name="Site", holder_party_id=party, address="x")
                db.session.add(site)
                db.session.flush()
                event = AnimalEvent(
                    animal_id=dam,
                    event="transfer",
                    from_state="in_captivity",
                    to_state="in_captivity",
                    occurred_on=date(2026, 1, 1),
                    actor_name="tests",
                    details={"owner_party_id": party, "facility_id": site.id, "cause": "moved"},
                )
                db.session.add(event)
                db.session.flush()
                db.session.add(
                    Keeping(
                        animal_id=dam,
                        relation="owner",
                        party_id=party,
                        facility_id=site.id,
                        since=date(2026, 1, 1),
                        event_id=event.id,
                    )
                )

    return dam, grow


def test_animal_page(client, login, world, family):
    dam, grow = family
    login(world.users["officer"])
    grow(1)
    same_count(client, f"/animals/{dam}", lambda: grow(9))


def test_animal_page_translates_each_word_once(client, login, world, family, monkeypatch):
    """A timeline of ten events of a kind looks up as many words as a timeline of one."""
    dam, grow = family
    login(world.users["officer"])
    grow(1)

    def words() -> int:
        with count_translations(monkeypatch) as seen:
            assert client.get(f"/animals/{dam}").status_code == 200
        return len(seen)

    words()
    few = words()
    grow(9)
    assert 0 < words() == few


def test_animal_api(client, api, world, family):
    dam, grow = family
    grow(1)
    headers = {"Authorization": f"Bearer {api.secrets['officer']}"}
    same_count(client, f"/api/v1/animals/{dam}", lambda: grow(9), headers)


def test_animal_page_queries_are_few(client, login, world, family):
    """Not only constant: an animal page loads what it shows in a bounded number of statements."""
    dam, grow = family
    grow(3)
    login(world.users["officer"])
    statements(client, f"/animals/{dam}")
    seen = statements(client, f"/animals/{dam}")
    assert seen.count <= 15, str(seen)


def add_transfers(w, n: int) -> None:
    animals = add_animals(w, n)
    with write_transaction():
        for animal_id in animals:
            k = next(_N)
            site = Facility(registration_no=f"F-X-{k}", name="To", holder_party_id=_party("To"), address="x")
            db.session.add(site)
            db.session.flush()
            t = Transfer(
                code=f"T{k:08d}",
                state="pending",
                transferor_party_id=_party("From"),
                transferee_party_id=site.holder_party_id,
                facility_id=site.id,
                planned_on=date(2026, 1, 1),
            )
            t.animals = [db.session.get(Animal, animal_id)]
            db.session.add(t)


def test_transfers_list_and_api(client, login, api, world):
    add_transfers(world, 2)
    headers = {"Authorization": f"Bearer {api.secrets['officer']}"}
    same_count(client, "/api/v1/transfers?limit=50", lambda: add_transfers(world, 8), headers)
    login(world.users["officer"])
    same_count(client, "/transfers/", lambda: add_transfers(world, 8))


def test_animal_search_matches_marks_by_key_and_beginning(client, login, world):
    """A mark is found typed with spaces or dashes, or by its beginning, through identifier.value_key;
    a registry number whole or by its beginning; neither by a substring scan of every animal."""
    (animal,) = add_animals(world, 1)
    a = db.session.get(Animal, animal)
    chip = a.identifiers[0].value
    login(world.users["officer"])
    spaced = " ".join(chip[i : i + 3] for i in range(0, len(chip), 3))
    for q in (chip, spaced, chip[:8], a.registry_no, a.registry_no[:12].lower(), "Species"):
        with count_statements(db.engine) as seen:
            page = client.get("/animals/", query_string={"q": q}).get_data(as_text=True)
        assert a.registry_no in page, q
        assert not any("lower(animal.registry_no)" in s or "registry_no ILIKE" in s for s in seen.queries), q
    assert a.registry_no not in client.get("/animals/", query_string={"q": chip[4:]}).get_data(as_text=True)


@contextmanager
def count_translations(monkeypatch):
    """Counts the look-ups in the translation catalogue (code, templates, ``|label``) of a block."""
    from babel.support import Translations

    seen: list[str] = []
    original = Translations.ugettext

    def counting(self, message):
        seen.append(message)
        return original(self, message)

    monkeypatch.setattr(Translations, "ugettext", counting)
    try:
        yield seen
    finally:
        monkeypatch.setattr(Translations, "ugettext", original)


def add_dead(w, n: int) -> None:
    """*n* animals dead since yesterday: each an open carcass-disposal item."""
    ids = add_animals(w, n, identifiers=0, state="dead")
    with write_transaction():
        for animal_id in ids:
            db.session.add(
                AnimalEvent(
                    animal_id=animal_id,
                    event="death",
                    from_state="in_captivity",
                    to_state="dead",
                    occurred_on=clock.today() - timedelta(days=1),
                    actor_name="tests",
                    details={},
                )
            )


def test_deadlines_page_is_paged_and_translated_once_per_rule(app, client, login, world, monkeypatch):
    login(world.users["officer"])
    add_dead(world, 3)
    size = app.config["PAGE_SIZE"]

    def page(n: int = 1):
        with count_statements(db.engine) as seen, count_translations(monkeypatch) as words:
            html = client.get("/deadlines/", query_string={"rule": "carcass_disposal", "page": n}).get_data(True)
        return html, seen.count, len(words)

    page()  # warm-up
    html, statements_few, words_few = page()
    assert len(re.findall(r'href="/animals/\d+"', html)) == 3
    add_dead(world, size - 3)  # a full page, no next one yet
    html, statements_many, words_many = page()
    assert len(re.findall(r'href="/animals/\d+"', html)) == size and "page=2" not in html
    assert statements_many == statements_few
    assert 0 < words_many == words_few, "translations looked up per row"
    add_dead(world, 10)
    html, *_ = page()
    assert len(re.findall(r'href="/animals/\d+"', html)) == size and "page=2" in html
    html, *_ = page(2)
    assert len(re.findall(r'href="/animals/\d+"', html)) == 10 and "page=3" not in html


def test_permit_page(client, login, world):
    """A permit of five lines, each of its own species with an animal declared, costs what one line does."""
    with write_transaction():
        p = Permit(
            doc_type="import",
            state="draft",
            issuing_country="KR",
            applicant_party_id=world.zoo,
            import_country="KR",
            export_country="ZA",
            purpose_code="Z",
            source_code="C",
        )
        db.session.add(p)
        db.session.flush()
        permit_id = p.id

    def lines(n: int) -> None:
        with write_transaction():
            for _ in range(n):
                k = next(_N)
                line = PermitLine(
                    permit_id=permit_id, line_no=k, species_id=species(f"Line {k}"), term_code="LIV", quantity=1
                )
                line.appendix = "II"
                db.session.add(line)
                db.session.flush()
                add_animals_to = Animal(
                    registry_no=f"KR-L-{k:06d}",
                    species_id=line.species_id,
                    state="declared",
                    sex="U",
                    source_code="C",
                    permit_line_id=line.id,
                )
                db.session.add(add_animals_to)

    login(world.users["officer"])
    lines(1)
    same_count(client, f"/permits/{permit_id}", lambda: lines(4))


def test_audit_page_and_api(client, login, api, world):
    def parties(n: int) -> None:
        for _ in range(n):
            reference.create_party(world.operator, "organisation", f"Audited {next(_N)}")

    headers = {"Authorization": f"Bearer {api.secrets['auditor']}"}
    same_count(client, "/api/v1/audit?limit=50", lambda: parties(10), headers)
    login(world.users["auditor"])
    same_count(client, "/audit/", lambda: parties(10))


def test_transfer_and_facility_pages(client, login, world):
    login(world.users["officer"])
    add_transfers(world, 1)
    transfer = db.session.scalars(select(Transfer).order_by(Transfer.id.desc())).first()

    def more_animals(n: int) -> None:
        ids = add_animals(world, n)
        with write_transaction():
            t = db.session.get(Transfer, transfer.id)
            t.animals = t.animals + [db.session.get(Animal, i) for i in ids]

    same_count(client, f"/transfers/{transfer.id}", lambda: more_animals(9))

    def more_allowances(n: int) -> None:
        with write_transaction():
            for _ in range(n):
                db.session.add(
                    FacilitySpecies(facility_id=world.rescue, species_id=species(f"Allowed {next(_N)}"), capacity=1)
                )

    same_count(client, f"/facilities/{world.rescue}", lambda: more_allowances(5))


def test_accounts_list(client, login, world):
    from registry.services import users

    def accounts(n: int) -> None:
        for _ in range(n):
            party = reference.create_party(world.operator, "organisation", f"Keeper {next(_N)}").id
            users.create_user(world.operator, f"keeper{next(_N)}", "correct horse battery", "keeper", party_id=party)

    login(world.users["admin"])
    same_count(client, "/admin/users", lambda: accounts(5))


def test_facilities_page_is_paged(app, client, login, world):
    """A country's facilities are thousands: the list shows one page of them, with a link to the next."""
    login(world.users["officer"])
    size = app.config["PAGE_SIZE"]
    add_facilities(size + 2)
    html = client.get("/facilities/").get_data(True)
    assert len(re.findall(r'href="/facilities/\d+"', html)) == size and "page=2" in html
    html = client.get("/facilities/", query_string={"page": 2}).get_data(True)
    assert 2 <= len(re.findall(r'href="/facilities/\d+"', html)) < size and "page=3" not in html
