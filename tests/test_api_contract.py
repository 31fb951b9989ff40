"""What a client codes against: one title per status, documented problems, media types, shapes."""

import json
from types import SimpleNamespace

import pytest
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import default_exceptions

from registry.services import errors as domain
from registry.services import tokens
from tests.helpers import animal_in, permit_in
from tests.test_api import application

PROBLEM = "application/problem+json"


@pytest.fixture
def raw(client, world):
    """raw(username, method, path, **kwargs): a request with that user's bearer token, body as given."""
    secrets = {name: tokens.create_token(world.operator, user.id, "tests")[1] for name, user in world.users.items()}

    def call(username, method, path, headers=None, **kwargs):
        all_headers = {"Authorization": f"Bearer {secrets[username]}"} if username else {}
        all_headers.update(headers or {})
        return client.open(f"/api/v1{path}", method=method, headers=all_headers, **kwargs)

    return call


def _problems_from_requests(raw, world):
    """A real request down every error path of the API, as (what, response)."""
    permit = permit_in(world, "submitted")
    animal = animal_in(world, "in_captivity")
    officer_body = {"animal_ids": [animal.id], "facility_id": world.breeder_site}
    yield "malformed JSON", raw("zoo", "POST", "/permits", data="{", content_type="application/json")
    yield "NUL character", raw("officer", "GET", "/animals?identifier=%00")
    yield "no token", raw(None, "GET", "/me")
    yield "capability (view)", raw("zoo", "GET", "/audit")
    yield "capability (service)", raw("zoo", "POST", f"/permits/{permit.id}/actions/approve", json={})
    yield "no route", raw("zoo", "GET", "/nothing-here")
    yield "out of scope", raw("breeder", "GET", f"/animals/{animal.id}")
    yield "no such transfer (domain)", raw("zoo", "GET", "/transfers/999999")
    yield "method", raw("zoo", "DELETE", "/me")
    yield "lifecycle", raw("officer", "POST", f"/permits/{permit.id}/actions/issue", json={})
    yield "too large", raw("zoo", "POST", "/permits", data="x" * (17 * 1024 * 1024), content_type="application/json")
    yield "media type", raw("zoo", "POST", "/transfers", data=str(officer_body), content_type="text/plain")
    yield "invalid body (webargs)", raw("zoo", "POST", "/permits", json={"doc_type": "visa"})
    yield "invalid query (webargs)", raw("zoo", "GET", "/animals?limit=0")
    yield (
        "bad Idempotency-Key (domain)",
        raw("zoo", "POST", "/permits", json=application(world), headers={"Idempotency-Key": "k" * 201}),
    )


def _problems_from_exceptions(app):
    """Every exception class that can end in a problem document, rendered under /api/."""
    raised = [(f"werkzeug {code}", cls()) for code, cls in default_exceptions.items() if code >= 400]
    raised += [(f"domain {cls.__name__}", cls("refused")) for cls in domain.DomainError.__subclasses__()]
    raised += [("rate limit", RateLimitExceeded(SimpleNamespace(error_message=None, limit="1 per minute")))]
    for what, exc in raised:
        with app.test_request_context("/api/v1/me", headers={"Accept-Language": "ko"}):
            try:
                raise exc
            except Exception as caught:  # the app decides what becomes of it
                yield what, app.make_response(app.handle_user_exception(caught))


def test_each_status_has_exactly_one_title(app, raw, world):
    titles: dict[int, set[str]] = {}
    seen = []
    for what, response in [*_problems_from_requests(raw, world), *_problems_from_exceptions(app)]:
        assert response.mimetype == PROBLEM, what
        body = response.get_json()
        assert body["status"] == response.status_code, what
        titles.setdefault(response.status_code, set()).add(body["title"])
        seen.append(response.status_code)
    assert {400, 401, 403, 404, 405, 409, 413, 415, 422, 428, 429, 500} <= set(seen)
    assert {status: t for status, t in titles.items() if len(t) != 1} == {}
    assert titles[403] == {"Forbidden"} and titles[404] == {"Not Found"} and titles[422] == {"Unprocessable Content"}


def test_titles_stay_english_and_details_follow_the_reader(raw, world):
    english = raw("zoo", "GET", "/audit")
    korean = raw("zoo", "GET", "/audit", headers={"Accept-Language": "ko"})
    assert english.json["title"] == korean.json["title"] == "Forbidden"
    assert english.json["detail"] != korean.json["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_json_sent_as_another_media_type_is_415(raw, world, session, content_type):
    from registry.models import Permit, Transfer

    bird = animal_in(world, "in_captivity")
    offer = json.dumps({"animal_ids": [bird.id], "facility_id": world.breeder_site})
    transfers = session.query(Transfer).count()
    refused = raw("zoo", "POST", "/transfers", data=offer, content_type=content_type)
    assert refused.status_code == 415 and refused.mimetype == PROBLEM
    assert refused.json["title"] == "Unsupported Media Type" and refused.json["detail"]
    assert session.query(Transfer).count() == transfers
    # An action whose fields are all optional must not run as if its body were empty.
    permit = permit_in(world, "submitted")
    refused = raw(
        "officer", "POST", f"/permits/{permit.id}/actions/approve", data='{"reason": "ok"}', content_type=content_type
    )
    assert refused.status_code == 415 and session.get(Permit, permit.id).state == "submitted"
    # The key of a refused request is free again.
    key = {"Idempotency-Key": f"offer-{content_type}"}
    assert raw("zoo", "POST", "/transfers", data=offer, content_type=content_type, headers=key).status_code == 415
    accepted = raw("zoo", "POST", "/transfers", data=offer, content_type="application/json", headers=key)
    assert accepted.status_code == 201


def test_json_media_types_and_an_empty_body_are_accepted(raw, world):
    permit = permit_in(world, "submitted")
    assert raw("officer", "POST", f"/permits/{permit.id}/actions/approve").json["state"] == "approved"
    permit = permit_in(world, "submitted")
    approved = raw(
        "officer",
        "POST",
        f"/permits/{permit.id}/actions/approve",
        data='{"reason": "ok"}',
        content_type="application/json; charset=utf-8",
    )
    assert approved.status_code == 200 and approved.json["state"] == "approved"


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_problems(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["security"] == [{"bearer": []}]
    checked = 0
    for path, method, operation in _operations(spec):
        expected = {"401", "403"}
        if "{" in path:
            expected.add("404")
        if method in ("post", "put", "patch", "delete"):
            expected |= {"409", "422"}
        if "requestBody" in operation:
            expected.add("415")
        responses = operation["responses"]
        assert expected <= set(responses), (method, path, expected - set(responses))
        if method == "get":
            assert "409" not in responses and "415" not in responses, (method, path)
        for status in {code for code in responses if code.isdigit() and int(code) >= 400}:
            response = responses[status]
            if "$ref" in response:
                response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
            assert list(response["content"]) == [PROBLEM], (method, path, status)
            assert response["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
        checked += 1
    assert checked >= 30


def test_idempotent_operations_declare_the_key_header(client):
    """The header is documented where the ``idempotent`` decorator is, next to the other parameters."""
    spec = client.get("/api/v1/openapi.json").json

    def parameters(path):
        return [p["name"] for p in spec["paths"][f"/api/v1{path}"]["post"].get("parameters", [])]

    assert parameters("/permits") == ["Idempotency-Key"]
    assert parameters("/permits/{permit_id}/copy") == ["replace", "Idempotency-Key"]
    assert parameters("/exchange/confirmed-quantities") == ["Idempotency-Key"]
    assert "x-idempotent" not in str(spec)


def test_the_documented_problems_are_the_ones_answered(raw, world):
    """A sample of the documented answers, really given: 404 on a path id, 415 on a body, 401 on GET."""
    spec = raw(None, "GET", "/openapi.json").json
    transfer = spec["paths"]["/api/v1/transfers"]["post"]["responses"]
    assert {"401", "415", "422"} <= set(transfer)
    assert raw("zoo", "POST", "/transfers", data="{}", content_type="text/plain").status_code == 415
    assert "404" in spec["paths"]["/api/v1/transfers/{transfer_id}"]["get"]["responses"]
    assert raw("zoo", "GET", "/transfers/999999").status_code == 404
    assert raw(None, "GET", "/audit/verify").status_code == 401


def test_computed_fields_have_their_shape_in_the_document(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    animal_ids = schemas["Transfer"]["properties"]["animal_ids"]
    assert animal_ids["type"] == "array" and animal_ids["items"]["type"] == "integer"
    assert animal_ids["minItems"] == 1 and animal_ids["items"]["minimum"] == 1
    lines = schemas["Endorsement"]["properties"]["lines"]
    assert lines["type"] == "array" and lines["items"] == {"$ref": "#/components/schemas/EndorsedLine"}
    line = schemas["EndorsedLine"]["properties"]
    assert {"line_no", "quantity", "outcome"} <= set(line) and line["line_no"]["type"] == "integer"
    # What only a request carries is marked so: an endorsement's answer has no reasons or animals.
    assert line["reason"]["writeOnly"] and line["animals"]["writeOnly"] and line["animal_ids"]["writeOnly"]
    assert "lines" in schemas["Endorsement"]["required"] and "animal_ids" in schemas["Transfer"]["required"]


def test_computed_fields_load_as_before(raw, world):
    for ids, field in (([], "animal_ids"), (["x"], "animal_ids.0"), ("12", "animal_ids")):
        refused = raw("zoo", "POST", "/transfers", json={"animal_ids": ids, "facility_id": world.breeder_site})
        assert refused.status_code == 422 and field in refused.json["errors"], (ids, refused.json)
    refused = raw("zoo", "POST", "/transfers", json={"facility_id": world.breeder_site})
    assert refused.status_code == 422 and "animal_ids" in refused.json["errors"]
