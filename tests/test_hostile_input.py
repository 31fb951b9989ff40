"""Hostile but valid input is answered as what it is, never a 500 (issue: security, findings)."""

import pytest

from registry.services import tokens


@pytest.fixture
def auditor(client, login, world):
    login(world.users["auditor"])
    return client


@pytest.mark.parametrize("path", ["/audit/?until=9999-12-31", "/audit/export.csv?until=9999-12-31"])
def test_the_last_day_there_is_is_a_day_like_another(auditor, path):
    assert auditor.get(path).status_code == 200


def test_the_last_day_through_the_api(client, world):
    secret = tokens.create_token(world.operator, world.users["auditor"].id, "tests")[1]
    answer = client.get("/api/v1/audit?until=9999-12-31", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.json["items"]


def test_a_page_past_any_there_is_is_empty(client, login, world):
    login(world.users["officer"])
    assert client.get("/permits/?page=100000000000000000000").status_code == 200


def test_entries_before_a_number_past_any_sequence_are_all_of_them(auditor):
    page = auditor.get(f"/audit/?before={10**30}")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count("<tr") == auditor.get("/audit/").get_data(as_text=True).count("<tr") > 1


def test_filter_text_is_not_read_as_markup_in_the_pdf(auditor, tmp_path):
    for actor in ("a<b", '<img src="/etc/hostname"/>', "x & y"):
        answer = auditor.get("/audit/export.pdf", query_string={"actor": actor})
        assert answer.status_code == 200 and answer.data.startswith(b"%PDF"), actor
        assert b"/Subtype /Image" not in answer.data  # no server file embedded


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, world):
    secret = tokens.create_token(world.operator, world.users["officer"].id, "tests")[1]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    escaped = client.post("/api/v1/parties", data='{"kind": "organisation", "name": "A\\\\u0000B"}', headers=headers)
    assert escaped.status_code == 201, escaped.get_json()
    assert escaped.json["name"] == "A\\u0000B"
    nul = client.post("/api/v1/parties", data='{"kind": "organisation", "name": "A\\u0000B"}', headers=headers)
    assert nul.status_code == 400 and "NUL" in nul.get_data(as_text=True)
