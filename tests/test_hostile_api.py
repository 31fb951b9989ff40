"""Hostile bodies on every write of the API: a problem document (4xx) and nothing written, never a 500.

tests/test_api_fuzz.py (schemathesis) sends bodies shaped by the OpenAPI document; this sends what no
schema describes: JSON that is not JSON, nested past any parser's depth, numbers past every integer,
a list where a string goes, bytes that are not UTF-8, and the wrong media type. The operations come
from the URL map, so a new one is covered without anyone adding it here.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from registry.extensions import limiter
from tests import fuzzing, hostile, uses
from tests.helpers import animal_in, issued_permit, permit_in

#: Who sends to each operation (the first role that may): a keeper starts transfers and adds marks.
ROLE = {"api_transfers.start_transfer": "zoo", "api_animals.add_identifier": "zoo"}


@pytest.fixture
def operations(app, session, world, api_tokens, monkeypatch):
    """(endpoint, method, path, fields of its body) of every API operation that takes a body."""
    monkeypatch.setattr(limiter, "enabled", False)
    bird = animal_in(world, "in_captivity")
    permit = issued_permit(world)
    draft = permit_in(world, "submitted")
    offered = animal_in(world, "in_captivity")
    transfer = uses.offer(world.actor("zoo"), {"animal_ids": [offered.id], "facility_id": world.breeder_site})
    mark = bird.identifiers[0].id if bird.identifiers else 1
    ids = {
        "animal_id": bird.id,
        "permit_id": draft.id,
        "facility_id": world.breeder_site,
        "transfer_id": transfer.id,
        "identifier_id": mark,
        "line_no": 1,
    }
    schema = app.test_client().get("/api/v1/openapi.json").get_json()
    found = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & {"POST", "PUT"}
        if not rule.rule.startswith("/api/") or not methods:
            continue
        values = {name: ids[name] for name in rule.arguments}
        if rule.endpoint in ("api_permits.declare_animal", "api_permits.endorse_permit"):
            values["permit_id"] = permit.id
        path = rule.build(values, append_unknown=False)[1]
        for method in methods:
            operation = _operation(schema, path.removeprefix("/api/v1"), method.lower())
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields = sorted(_resolve(schema, body).get("properties", {})) or ["name"]
            found.append((rule.endpoint, method, path, fields))
    assert len(found) >= 25
    return found


def _operation(schema: dict, path: str, method: str) -> dict:
    """The OpenAPI operation whose templated path matches *path*."""
    for template, item in schema["paths"].items():
        parts, sent = template.strip("/").split("/"), path.strip("/").split("/")
        if len(parts) == len(sent) and all(p == s or p.startswith("{") for p, s in zip(parts, sent, strict=True)):
            return item.get(method, {})
    return {}


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    for part in node.get("allOf", []):
        node = {**node, "properties": {**node.get("properties", {}), **_resolve(schema, part).get("properties", {})}}
    return node


@pytest.fixture
def send(client, api_tokens, session):
    """send(endpoint, method, path, body bytes, content type): the response, and what it wrote; each
    request in a savepoint rolled back after it, so that every one meets the same registry."""
    conn = session.get_bind()

    def _send(endpoint, method, path, body: bytes, content_type="application/json"):
        role = ROLE.get(endpoint, "officer")
        savepoint = conn.begin_nested()
        try:
            before = fuzzing.row_counts()
            response = client.open(
                path,
                method=method,
                data=body,
                headers={"Authorization": f"Bearer {api_tokens[role]}", "Content-Type": content_type},
            )
            return response, fuzzing.written(before, fuzzing.row_counts())
        finally:
            savepoint.rollback()

    return _send


def check(response, changed) -> None:
    """Accepted (2xx), or refused with a problem document and nothing but a denial recorded."""
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code < 300:
        response.get_json()
        return
    fuzzing.assert_problem(response)
    assert set(changed) <= {"audit_entry", "audit_subject"} and changed.get("audit_entry", 0) <= 1, changed


def test_every_write_refuses_json_that_is_not_json_it_can_read(operations, send):
    for body in hostile.RAW_JSON_BODIES:
        for endpoint, method, path, _fields in operations:
            response, changed = send(endpoint, method, path, body)
            try:
                check(response, changed)
            except AssertionError as exc:
                exc.add_note(f"{method} {path} with {body[:40]!r}")
                raise


def test_every_write_refuses_a_body_of_another_media_type(operations, send):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""):
        for endpoint, method, path, fields in operations:
            body = hostile.json_body(dict.fromkeys(fields, "x"))
            response, changed = send(endpoint, method, path, body, content_type)
            try:
                check(response, changed)
            except AssertionError as exc:
                exc.add_note(f"{method} {path} as {content_type!r}")
                raise


def _runner(send, settings, endpoint, method, path, fields):
    @settings
    @given(data=st.data())
    @example(data=None)
    def run(data):
        if data is None:  # the whole body the wrong type
            body: object = [dict.fromkeys(fields, "x")]
        else:
            body = data.draw(
                st.one_of(
                    st.dictionaries(st.sampled_from([*fields, "unexpected"]), hostile.json_value(), min_size=1),
                    hostile.json_value(),
                )
            )
        response, changed = send(endpoint, method, path, hostile.json_body(body))
        check(response, changed)

    return run


def _fuzz(operations, send, settings) -> None:
    for endpoint, method, path, fields in operations:
        try:
            _runner(send, settings, endpoint, method, path, fields)()
        except Exception as exc:
            exc.add_note(f"{method} {path}")
            raise


def test_every_write_answers_any_json_body(operations, send):
    # Few examples each: there are some forty operations, and the schemathesis run covers the shapes.
    _fuzz(operations, send, settings(fuzzing.FAST, max_examples=3))


@pytest.mark.slow
def test_every_write_answers_any_json_body_at_length(operations, send):
    _fuzz(operations, send, fuzzing.SLOW)
