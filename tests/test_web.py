"""The web interface: who reaches which page, scope, denials, and the main forms end to end."""

import re
from datetime import date, timedelta

import pytest

from registry import clock
from registry.models import Animal, AuditEntry, Permit
from tests import uses
from tests.conftest import import_application
from tests.helpers import animal_in, permit_in

PAGES = [
    "/",
    "/animals/",
    "/animals/{animal}",
    "/permits/",
    "/permits/{permit}",
    "/permits/new",
    "/species/",
    "/audit/",
    "/audit/verify",
    "/admin/users",
    "/animals/births/new",
    "/animals/{animal}/events/death",
]

#: Expected status per role, in the order of PAGES (the zoo keeper owns the animal and the permit).
MATRIX = {
    "admin": [200, 200, 200, 200, 200, 403, 200, 200, 200, 200, 403, 403],
    "officer": [200, 200, 200, 200, 200, 200, 200, 200, 403, 403, 200, 200],
    "customs": [200, 200, 200, 200, 200, 403, 200, 403, 403, 403, 403, 403],
    "zoo": [200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 200, 200],
    "breeder": [200, 200, 404, 200, 404, 200, 200, 403, 403, 403, 200, 404],
    "auditor": [200, 200, 200, 200, 200, 403, 200, 200, 200, 403, 403, 403],
}


@pytest.fixture
def objects(world):
    animal = animal_in(world, "in_captivity")
    permit = permit_in(world, "submitted")
    return {"animal": animal.id, "permit": permit.id}


@pytest.mark.parametrize("username", list(MATRIX))
def test_permission_matrix(client, login, world, objects, username):
    login(world.users[username])
    got = [client.get(page.format(**objects)).status_code for page in PAGES]
    assert got == MATRIX[username]


def test_anonymous_is_sent_to_login(client, world, objects):
    for page in PAGES:
        response = client.get(page.format(**objects))
        assert response.status_code == 302 and "/login" in response.headers["Location"], page


def test_denials_are_audited(client, login, world, objects, session):
    login(world.users["breeder"])
    client.get(f"/animals/{objects['animal']}")
    client.get("/admin/users")
    denied = session.query(AuditEntry).filter_by(action="access.denied").order_by(AuditEntry.seq).all()
    assert [(d.actor_name, d.after["status"]) for d in denied] == [("breeder", 404), ("breeder", 403)]


def test_keeper_cannot_approve_even_by_posting(client, login, world, objects, session):
    login(world.users["zoo"])
    response = client.post(f"/permits/{objects['permit']}/actions/approve", data={})
    assert response.status_code == 403
    assert session.get(Permit, objects["permit"]).state == "submitted"


def test_officer_decisions_through_the_ui(client, login, world, objects, session):
    login(world.users["officer"])
    page = client.get(f"/permits/{objects['permit']}").get_data(as_text=True)
    assert "Approve" in page and "Request changes" in page
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    client.post(f"/permits/{objects['permit']}/actions/approve", data={"version": version})
    assert session.get(Permit, objects["permit"]).state == "approved"
    # The same officer issues nothing for an application they drafted on someone's behalf (four eyes).
    own = uses.create_application(world.actor("officer"), import_application(world, applicant_party_id=world.zoo))
    uses.permit_event(world.actor("officer"), own.id, "submit")
    response = client.post(f"/permits/{own.id}/actions/approve", data={}, follow_redirects=True)
    assert "four eyes" in response.get_data(as_text=True)
    assert session.get(Permit, own.id).state == "submitted"


def test_application_form_round_trip(client, login, world, session):
    login(world.users["zoo"])
    form = {
        "doc_type": "import",
        "exporter_party_id": str(world.exporter),
        "import_country": "KR",
        "export_country": "ZA",
        "origin_country": "",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "za-77",
        "lines-0-species_id": str(world.parrot),
        "lines-0-term_code": "LIV",
        "lines-0-quantity": "4",
        "lines-0-unit_code": "",
    }
    response = client.post("/permits/new", data=form)
    assert response.status_code == 302
    permit = session.query(Permit).filter_by(foreign_permit_no="ZA-77").one()
    assert permit.applicant_party_id == world.zoo and permit.lines[0].quantity == 4
    bad = client.post("/permits/new", data=form | {"lines-0-quantity": "2.5"})
    assert bad.status_code == 200 and "whole numbers" in bad.get_data(as_text=True)
    bad = client.post("/permits/new", data=form | {"export_country": "QQ"})
    assert bad.status_code == 200 and "Not a valid choice" in bad.get_data(as_text=True)
    assert session.query(Permit).count() == 1


def test_event_form_shows_errors_next_to_fields_and_records(client, login, world, session):
    animal = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    response = client.post(f"/animals/{animal.id}/events/death", data={"cause": ""})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="cause-err"' in text and "required" in text
    assert session.get(Animal, animal.id).state == "in_captivity"
    response = client.post(f"/animals/{animal.id}/events/death", data={"cause": "heart failure"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Animal, animal.id).state == "dead"
    page = client.get(f"/animals/{animal.id}").get_data(as_text=True)
    assert "heart failure" in page and "Carcass disposal" in page


def test_stale_form_is_refused_with_a_clear_message(client, login, world, session):
    animal = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    stale = animal.version
    client.post(f"/animals/{animal.id}/events/report_missing", data={"circumstances": "gone", "version": stale})
    response = client.post(f"/animals/{animal.id}/events/recover", data={"version": stale})
    assert "changed by someone else" in response.get_data(as_text=True)


def test_search_by_microchip_and_species(client, login, world):
    animal = animal_in(world, "in_captivity", chip="410000000000777")
    login(world.users["officer"])
    assert animal.registry_no in client.get("/animals/?q=410000000000777").get_data(as_text=True)
    assert animal.registry_no in client.get("/animals/?q=psittacus").get_data(as_text=True)
    assert animal.registry_no not in client.get("/animals/?q=python").get_data(as_text=True)


def test_audit_verify_page(client, login, world):
    login(world.users["auditor"])
    response = client.post("/audit/verify", data={})
    assert "audit chain intact" in response.get_data(as_text=True)


def test_security_headers(client, login, world):
    login(world.users["zoo"])
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_offered_actions_respect_guards(client, login, world):
    permit = permit_in(world, "issued")
    with clock.on(date.today() - timedelta(days=400)):
        old = permit_in(world, "issued")  # a year's validity, over by now
    login(world.users["officer2"])
    page = client.get(f"/permits/{permit.id}").get_data(as_text=True)
    assert "Cancel the permit" in page and ">Expire<" not in page
    assert ">Expire<" in client.get(f"/permits/{old.id}").get_data(as_text=True)
    # The officer who drafted an application is not offered the decision on it.
    own = uses.create_application(world.actor("officer"), import_application(world, applicant_party_id=world.zoo))
    uses.permit_event(world.actor("officer"), own.id, "submit")
    login(world.users["officer"])
    page = client.get(f"/permits/{own.id}").get_data(as_text=True)
    assert ">Approve<" not in page and "Withdraw the application" in page


def test_timeline_shows_names_not_ids(client, login, world):
    animal = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    page = client.get(f"/animals/{animal.id}").get_data(as_text=True)
    assert "Facility: Zoo bird house" in page and "facility_id" not in page
    assert f"Permit: {animal.permit_line.permit.display_number}" in page
    korean = client.get(f"/animals/{animal.id}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "사육시설: Zoo bird house" in korean


def test_timeline_details_read_as_words_in_both_languages(client, login, world):
    animal = animal_in(world, "disposed")
    login(world.users["zoo"])
    page = client.get(f"/animals/{animal.id}").get_data(as_text=True)
    assert "Method: Burial" in page and "Witness: vet" in page
    korean = client.get(f"/animals/{animal.id}", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert "처리 방법: 매립" in korean and "입회인: vet" in korean


def test_a_guard_refusal_sits_next_to_the_field_it_judges(client, login, world):
    """A suspected disease rules out rendering: the refusal is shown at the method, and named in the API."""
    animal = animal_in(world, "in_captivity")

    uses.fire(world.actor("zoo"), animal.id, "death", {"cause": "fever", "disease_suspected": True})
    login(world.users["zoo"])
    form = client.get(f"/animals/{animal.id}/events/dispose").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    page = client.post(
        f"/animals/{animal.id}/events/dispose",
        data={
            "method": "rendering",
            "handler": "Renderer Co.",
            "licence_no": "R-1",
            "place": "Yongin",
            "witness": "vet",
            "version": version,
        },
    ).get_data(as_text=True)
    method_block = page[page.index('id="method"') : page.index('id="handler"')]
    assert "must be incinerated or buried" in method_block
