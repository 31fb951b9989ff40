"""The same permission matrix through the web UI and the JSON API: roles x operations -> outcome."""

import pytest

from registry.services import tokens
from tests.helpers import animal_in, permit_in

ROLES = ["admin", "officer", "customs", "zoo", "breeder", "auditor"]


def _outcome(status: int) -> str:
    return {200: "ok", 201: "ok", 302: "ok", 403: "forbidden", 404: "not found"}.get(status, str(status))


def operations(world):
    """(name, expected outcome per role, make the object, UI request, API request)."""
    return [
        (
            "view the zoo's animal",
            {"admin": "ok", "officer": "ok", "customs": "ok", "zoo": "ok", "breeder": "not found", "auditor": "ok"},
            lambda: animal_in(world, "in_captivity").id,
            lambda i: ("GET", f"/animals/{i}", None),
            lambda i: ("GET", f"/api/v1/animals/{i}", None),
        ),
        (
            "report the death of the zoo's animal",
            {
                "admin": "forbidden",
                "officer": "ok",
                "customs": "forbidden",
                "zoo": "ok",
                "breeder": "not found",
                "auditor": "forbidden",
            },
            lambda: animal_in(world, "in_captivity").id,
            lambda i: ("POST", f"/animals/{i}/events/death", {"cause": "old age"}),
            lambda i: ("POST", f"/api/v1/animals/{i}/events", {"event": "death", "cause": "old age"}),
        ),
        (
            "record entry at customs",
            {
                "admin": "forbidden",
                "officer": "forbidden",
                "customs": "ok",
                "zoo": "forbidden",
                "breeder": "not found",
                "auditor": "forbidden",
            },
            lambda: animal_in(world, "declared").id,
            lambda i: ("POST", f"/animals/{i}/events/enter", {"port": "ICN"}),
            lambda i: ("POST", f"/api/v1/animals/{i}/events", {"event": "enter", "port": "ICN"}),
        ),
        (
            "approve the zoo's application",
            {
                "admin": "forbidden",
                "officer": "ok",
                "customs": "forbidden",
                "zoo": "forbidden",
                "breeder": "not found",
                "auditor": "forbidden",
            },
            lambda: permit_in(world, "submitted").id,
            lambda i: ("POST", f"/permits/{i}/actions/approve", {}),
            lambda i: ("POST", f"/api/v1/permits/{i}/actions/approve", {}),
        ),
        (
            "view the zoo's application",
            {"admin": "ok", "officer": "ok", "customs": "ok", "zoo": "ok", "breeder": "not found", "auditor": "ok"},
            lambda: permit_in(world, "draft").id,
            lambda i: ("GET", f"/permits/{i}", None),
            lambda i: ("GET", f"/api/v1/permits/{i}", None),
        ),
        (
            "read the audit log",
            {
                "admin": "ok",
                "officer": "ok",
                "customs": "forbidden",
                "zoo": "forbidden",
                "breeder": "forbidden",
                "auditor": "ok",
            },
            lambda: 0,
            lambda i: ("GET", "/audit/", None),
            lambda i: ("GET", "/api/v1/audit", None),
        ),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_same_answer_from_ui_and_api(app, client, login, world, role):
    secret = tokens.create_token(world.operator, world.users[role].id, "parity")[1]
    login(world.users[role])
    got, ops = [], operations(world)
    for name, _expected, make, ui, api in ops:
        method, path, body = ui(make())
        ui_status = client.open(path, method=method, data=body).status_code
        method, path, body = api(make())
        api_status = client.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        got.append((name, _outcome(ui_status), _outcome(api_status)))
    assert got == [(name, expected[role], expected[role]) for name, expected, *_ in ops]
