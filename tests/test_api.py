"""The JSON API: tokens, the same rules as the UI, problem documents, idempotency, pages, ETags."""

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import update

from registry.models import Animal, ApiToken, AuditEntry, Permit
from registry.services import tokens
from tests.helpers import animal_in


def application(world, **overrides):
    body = {
        "doc_type": "import",
        "exporter_party_id": world.exporter,
        "import_country": "KR",
        "export_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "ZA-9",
        "lines": [{"species_id": world.parrot, "quantity": "2"}],
    }
    body.update(overrides)
    return body


def test_no_bad_expired_or_revoked_token_is_401(api, world, session):
    for headers in ({}, {"Authorization": "Bearer wr_nonsense"}, {"Authorization": "Basic abc"}):
        response = api(None, "GET", "/me", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert response.mimetype == "application/problem+json" and response.json["status"] == 401
    assert api("zoo", "GET", "/me").json["role"] == "keeper"
    from registry.models.base import utcnow

    session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert api("zoo", "GET", "/me").status_code == 401


def test_revoked_token_and_disabled_user(api, world, session):
    from registry.services import users

    token = session.query(ApiToken).filter_by(user_id=world.users["zoo"].id).one()
    tokens.revoke_token(world.actor("zoo"), token.id)
    assert api("zoo", "GET", "/me").status_code == 401
    users.set_enabled(world.operator, world.users["breeder"].id, False)
    assert api("breeder", "GET", "/me").status_code == 401


def test_permit_workflow_through_the_api(api, world, session):
    created = api("zoo", "POST", "/permits", application(world))
    assert created.status_code == 201, created.json
    pid = created.json["id"]
    assert created.json["applicant_party_id"] == world.zoo and created.json["lines"][0]["quantity"] == "2.000"
    assert api("zoo", "POST", f"/permits/{pid}/actions/submit", {}).json["state"] == "submitted"
    refused = api("zoo", "POST", f"/permits/{pid}/actions/approve", {})
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    changes = api("officer", "POST", f"/permits/{pid}/actions/request-changes", {"reason": "add rings"})
    assert changes.json["state"] == "changes_requested" and changes.json["decision_note"] == "add rings"
    stale = api("zoo", "PUT", f"/permits/{pid}", application(world, version=1))
    assert stale.status_code == 409 and "changed by someone else" in stale.json["detail"]
    edited = api("zoo", "PUT", f"/permits/{pid}", application(world, version=changes.json["version"]))
    assert edited.status_code == 200
    api("zoo", "POST", f"/permits/{pid}/actions/submit", {})
    assert api("officer", "POST", f"/permits/{pid}/actions/approve", {}).json["state"] == "approved"
    issued = api("officer2", "POST", f"/permits/{pid}/actions/issue", {}).json
    assert issued["state"] == "issued" and issued["number"].startswith("KR/")
    illegal = api("officer2", "POST", f"/permits/{pid}/actions/approve", {})
    assert illegal.status_code == 409 and "it is now 'Issued'" in illegal.json["detail"]
    declared = api(
        "zoo",
        "POST",
        f"/permits/{pid}/lines/1/animals",
        {"sex": "F", "identifiers": [{"kind": "microchip", "value": "410000000004321"}]},
    )
    assert declared.status_code == 201 and declared.json["state"] == "declared"
    aid = declared.json["id"]
    assert (
        api("customs", "POST", f"/animals/{aid}/events", {"event": "enter", "port": "ICN"}).json["state"] == "entered"
    )
    placed = api("zoo", "POST", f"/animals/{aid}/events", {"event": "register", "facility_id": world.zoo_site})
    assert placed.json["state"] == "in_captivity" and placed.json["facility_id"] == world.zoo_site
    timeline = api("zoo", "GET", f"/animals/{aid}/events").json["items"]
    assert [e["event"] for e in timeline] == ["register", "enter", "declare"]
    found = api("customs", "GET", "/animals?identifier=410000000004321").json["items"]
    assert [a["id"] for a in found] == [aid]


def test_validation_errors_are_field_level_and_change_nothing(api, world, session):
    before = session.query(Permit).count()
    response = api("zoo", "POST", "/permits", {"doc_type": "visa", "lines": [], "extra": 1})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert {"doc_type", "lines", "extra", "import_country"} <= set(response.json["errors"])
    response = api("zoo", "POST", "/permits", application(world, export_country="QQ"))
    assert response.status_code == 422 and response.json["errors"] == {
        "export_country": "an ISO 3166-1 alpha-2 country code"
    }
    assert session.query(Permit).count() == before


def test_scope_is_404_and_capability_is_403(api, world):
    animal = animal_in(world, "in_captivity")
    assert api("breeder", "GET", f"/animals/{animal.id}").status_code == 404
    assert api("breeder", "POST", f"/animals/{animal.id}/events", {"event": "death", "cause": "x"}).status_code == 404
    assert api("auditor", "POST", f"/animals/{animal.id}/events", {"event": "death", "cause": "x"}).status_code == 403
    assert api("customs", "POST", "/permits", application(world)).status_code == 403
    assert api("breeder", "GET", "/animals").json["items"] == []
    assert api("zoo", "GET", "/audit").status_code == 403


def test_retried_post_creates_nothing_twice(api, world, session):
    animal = animal_in(world, "in_captivity")
    key = {"Idempotency-Key": "death-report-1"}
    body = {"event": "death", "cause": "old age"}
    first = api("zoo", "POST", f"/animals/{animal.id}/events", body, key)
    entries = session.query(AuditEntry).count()
    again = api("zoo", "POST", f"/animals/{animal.id}/events", body, key)
    assert first.status_code == again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert session.query(AuditEntry).count() == entries
    assert len([e for e in session.get(Animal, animal.id).events if e.event == "death"]) == 1
    other = api("zoo", "POST", f"/animals/{animal.id}/events", {"event": "death", "cause": "else"}, key)
    assert other.status_code == 422 and "different request" in other.json["errors"]["Idempotency-Key"]
    # A failed request frees its key: after fixing the input, the same key works.
    created = api("zoo", "POST", "/permits", application(world, export_country="QQ"), {"Idempotency-Key": "p1"})
    assert created.status_code == 422
    assert api("zoo", "POST", "/permits", application(world), {"Idempotency-Key": "p1"}).status_code == 201


def test_cursor_pages_cover_everything_once(api, world):
    ids = {animal_in(world, "declared").id for _ in range(5)}
    seen, cursor = [], None
    while True:
        path = "/animals?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api("officer", "GET", path).json
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen, reverse=True) == seen and set(seen) == ids
    assert api("officer", "GET", "/animals?limit=101").status_code == 422
    assert api("officer", "GET", "/animals?cursor=abc").status_code == 422


def test_etag_and_if_none_match(api, world):
    animal = animal_in(world, "in_captivity")
    first = api("zoo", "GET", f"/animals/{animal.id}")
    etag = first.headers["ETag"]
    assert api("zoo", "GET", f"/animals/{animal.id}", headers={"If-None-Match": etag}).status_code == 304
    api("zoo", "POST", f"/animals/{animal.id}/events", {"event": "report_missing", "circumstances": "gone"})
    changed = api("zoo", "GET", f"/animals/{animal.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_audit_export_formats(api, world):
    animal_in(world, "in_captivity")
    lines = api("auditor", "GET", "/audit?format=jsonl").get_data(as_text=True).splitlines()
    entries = [json.loads(line) for line in lines if json.loads(line)["type"] == "entry"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    from registry import audit_chain, audit_export

    assert audit_chain.verify(entries).ok and audit_export.verify_export(lines).ok
    rows = list(csv.DictReader(io.StringIO(api("auditor", "GET", "/audit?format=csv").get_data(as_text=True))))
    assert len(rows) >= len(entries) and rows[0]["seq"] == "1"
    verdict = api("auditor", "GET", "/audit/verify").json
    assert verdict["ok"] is True and verdict["checked"] >= len(entries)


def test_birth_posted_on_the_dam(api, world, session):
    dam = animal_in(world, "in_captivity")
    chick = api(
        "zoo",
        "POST",
        f"/animals/{dam.id}/events",
        {
            "event": "birth",
            "birth_date": "2026-01-01",
            "source_code": "C",
            "identifiers": [{"kind": "closed_ring", "value": "KR-R-1"}],
        },
    )
    assert chick.status_code == 201, chick.json
    assert chick.json["dam_id"] == dam.id and chick.json["state"] == "in_captivity"


def test_openapi_document_and_browsable_page(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    refuse = spec["paths"]["/api/v1/permits/{permit_id}/actions/refuse"]["post"]["requestBody"]
    reasoned = refuse["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "reason" in spec["components"]["schemas"][reasoned]["required"]  # each action documents its body
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "/api/v1/animals/{animal_id}/events" in page.get_data(as_text=True)


def test_nul_characters_are_refused_everywhere(api, client, login, world):
    assert api("officer", "GET", "/animals?identifier=%00x").status_code == 400
    response = api("zoo", "POST", "/permits", application(world, foreign_permit_no="A\u0000B"))
    assert response.status_code == 400 and response.json["detail"] == "NUL characters are not accepted"
    login(world.users["zoo"])
    assert client.get("/animals/?q=%00").status_code == 400


def test_facilities_in_scope_and_registration(api, world):
    mine = api("zoo", "GET", "/facilities").json["items"]
    assert [f["registration_no"] for f in mine] == ["F-ZOO"]
    assert len(api("officer", "GET", "/facilities").json["items"]) == 3
    assert api("zoo", "GET", f"/facilities/{world.breeder_site}").status_code == 404
    body = {
        "registration_no": "F-NEW",
        "name": "New aviary",
        "holder_party_id": world.breeder,
        "address": "Suwon",
        "allowances": [{"species_id": world.parrot, "capacity": 4}],
    }
    assert api("zoo", "POST", "/facilities", body).status_code == 403
    created = api("officer", "POST", "/facilities", body)
    assert created.status_code == 201 and created.json["status"] == "registered"
    assert created.json["allowances"] == [{"species_id": world.parrot, "capacity": 4}]
    assert api("officer", "POST", "/facilities", body).status_code == 409


def test_transfer_handshake_through_the_api(api, world, session):
    bird = animal_in(world, "in_captivity")
    offered = api("zoo", "POST", "/transfers", {"animal_ids": [bird.id], "facility_id": world.breeder_site})
    assert offered.status_code == 201 and offered.json["state"] == "pending" and offered.json["animal_ids"] == [bird.id]
    tid = offered.json["id"]
    assert api("customs", "GET", f"/transfers/{tid}").status_code == 200  # officers see every transfer...
    assert api("customs", "POST", f"/transfers/{tid}/actions/accept", {}).status_code == 403  # ...not act on it
    assert api("zoo", "POST", f"/transfers/{tid}/actions/accept", {}).status_code == 409
    accepted = api("breeder", "POST", f"/transfers/{tid}/actions/accept", {})
    assert accepted.json["state"] == "accepted"
    assert api("breeder", "GET", f"/animals/{bird.id}").json["owner_party_id"] == world.breeder
    assert api("zoo", "GET", f"/animals/{bird.id}").status_code == 404  # no longer theirs
    assert api("officer", "POST", f"/transfers/{tid}/actions/acknowledge", {}).json["state"] == "acknowledged"
    assert [t["id"] for t in api("breeder", "GET", "/transfers?state=acknowledged").json["items"]] == [tid]


def test_a_guard_refusal_names_its_field_in_the_readers_language(api, world, client):
    animal = animal_in(world, "in_captivity")
    api("zoo", "POST", f"/animals/{animal.id}/events", {"event": "death", "cause": "fever", "disease_suspected": True})
    body = {
        "event": "dispose",
        "method": "rendering",
        "handler": "R",
        "licence_no": "R-1",
        "place": "P",
        "witness": "W",
    }
    refused = api("zoo", "POST", f"/animals/{animal.id}/events", body)
    assert refused.status_code == 409
    assert refused.json["errors"] == {"method": refused.json["detail"]}
    assert "incinerated or buried" in refused.json["detail"]
    korean = api("zoo", "POST", f"/animals/{animal.id}/events", body, headers={"Accept-Language": "ko"})
    assert korean.status_code == 409 and "소각하거나 매립해야" in korean.json["detail"]
    assert korean.json["title"] == "Conflict"  # titles stay English: clients match on them
