"""One input contract per use case: each event's body is its own schema, checked once at the edge,
and the OpenAPI document tells a client what each event needs."""

import dataclasses

import pytest

from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.models import Animal, AuditEntry
from registry.services import tokens
from registry.services.errors import ValidationFailed
from tests import uses
from tests.helpers import animal_in


def _required(command: type) -> set[str]:
    return {
        f.name
        for f in dataclasses.fields(command)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


@pytest.fixture
def bearer(world):
    secret = tokens.create_token(world.operator, world.users["zoo"].id, "tests")[1]
    return {"Authorization": f"Bearer {secret}"}


def test_each_event_is_a_branch_of_the_documented_body(client, bearer):
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/animals/{animal_id}/events"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert body["schema"]["discriminator"]["propertyName"] == "event"
    assert set(mapping) == set(commands.EVENTS) | {"birth"}
    assert len(body["schema"]["oneOf"]) == len(mapping)
    for event, command in commands.EVENTS.items():
        branch = spec["components"]["schemas"][mapping[event].rsplit("/", 1)[1]]
        assert branch["properties"]["event"]["enum"] == [event]
        # What a client must send is exactly what the service cannot do without.
        assert set(branch["required"]) == _required(command) | {"event"}, event
        assert branch["additionalProperties"] is False


def test_a_malformed_event_is_refused_at_the_edge_field_by_field(client, bearer, world, session):
    animal = animal_in(world, "in_captivity")
    entries = session.query(AuditEntry).count()
    answer = client.post(
        f"/api/v1/animals/{animal.id}/events",
        json={"event": "dispose", "method": "fire", "place": "x" * 2001},
        headers=bearer,
    )
    # The animal is alive, so a well-formed disposal would be a 409; the shape is judged first.
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"method", "handler", "witness", "place"}
    assert session.query(AuditEntry).count() == entries
    assert session.get(Animal, animal.id).state == "in_captivity"


def test_edge_refusals_are_in_the_readers_language(client, bearer, world):
    animal = animal_in(world, "in_captivity")
    answer = client.post(
        f"/api/v1/animals/{animal.id}/events",
        json={"event": "report_missing"},
        headers={**bearer, "Accept-Language": "ko"},
    )
    assert answer.status_code == 422 and answer.json["errors"] == {"circumstances": "필수 항목입니다"}


def test_an_event_body_in_another_media_type_is_415(client, bearer, world):
    animal = animal_in(world, "in_captivity")
    answer = client.post(
        f"/api/v1/animals/{animal.id}/events",
        data="event=report_missing&circumstances=gone",
        headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 415 and answer.json["title"] == "Unsupported Media Type"


def test_unknown_and_creating_events_are_not_commands(world):
    animal = animal_in(world, "in_captivity")
    for event in ("fly", "declare"):
        with pytest.raises(ValidationFailed, match="unknown event"):
            uses.fire(world.operator, animal.id, event, {})


def test_the_licence_is_required_for_licensed_methods_only():
    base = {"event": "dispose", "handler": "h", "place": "p", "witness": "w"}
    with pytest.raises(ValidationFailed) as refused:
        commands.event_command("dispose", {**base, "method": "incineration"})
    assert set(refused.value.fields) == {"licence_no"}
    burial = commands.event_command("dispose", {**base, "method": "burial"})
    assert burial == commands.Dispose(method=commands.DisposalMethod.BURIAL, handler="h", place="p", witness="w")


def test_blank_mark_rows_of_a_form_are_left_out_and_bad_chips_named():
    declaration = commands.load(
        arrival.DeclarationSchema,
        {"identifiers": [{"kind": "", "value": ""}, {"kind": "microchip", "value": "410000000000001"}]},
    )
    assert declaration.identifiers == (arrival.NewIdentifier("microchip", "410000000000001"),)
    with pytest.raises(ValidationFailed) as refused:
        commands.load(arrival.DeclarationSchema, {"identifiers": [{"kind": "microchip", "value": "12"}]})
    assert refused.value.fields == {"identifiers.0.value": "an ISO 11784 microchip number is exactly 15 digits"}


@pytest.mark.parametrize("path, action", [("permits", "refuse"), ("facilities", "refuse")])
def test_a_reason_is_required_at_the_edge_for_both_lifecycles(client, world, session, path, action):
    """Refusals are justified: the action's body requires a reason, so both lifecycles answer 422
    naming it, and the document says so per action."""
    from tests.helpers import permit_in

    secret = tokens.create_token(world.operator, world.users["officer2"].id, "tests")[1]
    if path == "permits":
        target = permit_in(world, "submitted").id
    else:
        target = uses.apply_facility(
            world.actor("zoo"), {"name": "New aviary", "address": "Seoul", "allowances": {world.parrot: 2}}
        ).id
    answer = client.post(
        f"/api/v1/{path}/{target}/actions/{action}", json={}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 422 and set(answer.json["errors"]) == {"reason"}


def test_an_event_without_a_body_is_read_as_empty(client, bearer, world):
    animal = animal_in(world, "in_captivity")
    answer = client.post(f"/api/v1/animals/{animal.id}/events", headers=bearer)
    assert answer.status_code == 422 and "event" in answer.json["errors"]


def test_a_birth_on_a_parent_kept_nowhere_names_the_facility(client, bearer, world):
    dead = animal_in(world, "disposed")  # a carcass disposed of is held by nobody
    answer = client.post(
        f"/api/v1/animals/{dead.id}/events", json={"event": "birth", "birth_date": "2026-01-01"}, headers=bearer
    )
    assert answer.status_code == 422 and answer.json["errors"] == {"facility_id": "required"}
