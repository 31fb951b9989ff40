"""Hostile query strings on every page that lists, searches or exports: never a 500, nothing written.

The pages come from the URL map, so a new page is fuzzed without anyone adding it here; a page whose
address holds a variable must be listed below, with its arguments or the reason it is left out.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.extensions import limiter
from registry.services.history import FILTERS
from tests import fuzzing, hostile
from tests.conftest import open_session
from tests.helpers import animal_in, issued_permit

#: Every name a page or the API reads from the query string (read off the views and the OpenAPI
#: document), and one no page reads: each example sets a few of them.
NAMES = ["page", "q", "state", "appendix", "rule", "overdue", "year", "direction", "before", "t", "next", *FILTERS]
NAMES += ["per_page", "limit", "cursor", "species_id", "party_id", "facility_id", "kind", "status", "unknown"]

#: Pages whose address holds a variable, with the values to fill in.
ARGUMENTS = {
    "audit.export": [{"fmt": f} for f in ("csv", "pdf", "jsonl")],
    "api_reports.annual": [{"year": 2026}],
    "public.verify": [{"number": "<the issued permit's number>"}],
}
#: Pages left out, and why: each shows one object found by its id (the ids are fuzzed by the API's
#: schemathesis run, scope by the access tests) and reads nothing from the query string.
LEFT_OUT = {
    "static": "files from disk",
    "auth.code": "the login's second step, reached only after a password (tests/test_sessions_second_factor.py)",
    "animals.show": "one object",
    "animals.record_event": "a form (tests/test_hostile_forms.py)",
    "admin.species": "a form",
    "admin.user": "a form",
    "customs.endorse": "a form",
    "facilities.show": "one object",
    "files.download": "one stored file",
    "permits.show": "one object",
    "permits.edit": "a form",
    "permits.pdf": "one document",
    "permits.receipt": "one document",
    "permits.epermit_xml": "one document",
    "transfers.show": "one object",
    # A partner authority's token only (every role here is a 401), and each read is audited:
    # tests/test_api_fuzz.py sends them schemathesis' queries with partners' tokens.
    "api_exchange.get_final_document": "partners only",
    "api_exchange.get_non_final_document": "partners only",
    "api_exchange.service_state": "partners only",
}
#: Exports write one audit entry each (who took a copy of what), and nothing else.
EXPORTS = {"audit.export", "audit.checkpoints", "deadlines.export", "reports.annual_csv"}
ROLES = ("officer", "auditor", "zoo", "customs", "admin", None)


def _pages(app, arguments):
    """(endpoint, path, method) of every page that answers GET, or is an export whatever its method."""
    seen = set()
    for rule in app.url_map.iter_rules():
        methods = rule.methods or set()
        if rule.endpoint in LEFT_OUT or ("GET" not in methods and rule.endpoint not in EXPORTS):
            continue
        if rule.rule.startswith("/api/") and rule.arguments and rule.endpoint not in arguments:
            continue  # one object of the API by its id: tests/test_api_fuzz.py (schemathesis) sends every parameter
        if rule.arguments and rule.endpoint not in arguments:
            raise AssertionError(f"{rule.endpoint} ({rule.rule}) is in neither ARGUMENTS nor LEFT_OUT")
        for values in arguments.get(rule.endpoint, [{}]):
            path = rule.build(values, append_unknown=False)[1]
            if (rule.endpoint, path) not in seen:
                seen.add((rule.endpoint, path))
                yield rule.endpoint, path, "GET" if "GET" in methods else "POST"


@pytest.fixture
def pages(app, client, login, world, api_tokens, monkeypatch):
    """Each page with a role that may open it (the first that gets a 200 from it without a query)."""
    monkeypatch.setattr(limiter, "enabled", False)
    animal_in(world, "in_captivity")  # something in the lists, the reports and the audit log
    permit = issued_permit(world)
    arguments = ARGUMENTS | {"public.verify": [{"number": permit.number}]}

    keys: dict[str, str] = {}

    def signed_in(role: str) -> None:
        # One session per role, opened once: a login per request would write a row each time.
        user = world.users[role]
        if role not in keys:
            keys[role] = open_session(user)
        with client.session_transaction() as s:
            s.clear()
            s.update({"_user_id": user.get_id(), "_fresh": True, "sid": keys[role]})

    def as_role(role):
        def send(method, path, query="", data=None):
            headers = {"Authorization": f"Bearer {api_tokens[role]}"} if role and path.startswith("/api/") else {}
            if role and not path.startswith("/api/"):
                signed_in(role)
            elif role is None:
                client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
                with client.session_transaction() as s:
                    s.clear()
            return client.open(f"{path}?{query}" if query else path, method=method, data=data, headers=headers)

        return send

    found = []
    for endpoint, path, method in _pages(app, arguments):
        for role in ROLES:
            send = as_role(role)
            status = send(method, path).status_code
            if status == 200 or (role is None and status == 404):  # the public check of a permit without its code
                found.append((endpoint, path, method, send))
                break
        else:
            raise AssertionError(f"no role opens {path}")
    return found


def request(send, method: str, path: str, params: dict[str, bytes]):
    """One request with *params*: in the query string for GET, also as the form for a POST export."""
    query = hostile.as_query(params)
    return send(method, path, query, query.encode() if method == "POST" else None)


def check(endpoint: str, path: str, method: str, send, params: dict[str, bytes]) -> None:
    before = fuzzing.row_counts()
    response = request(send, method, path, params)
    changed = fuzzing.written(before, fuzzing.row_counts())
    sent = [v.decode("utf-8", "replace") for v in params.values()]
    if path.startswith("/api/") and response.mimetype != "text/html":  # the API's documentation is a page
        assert response.status_code == 200 or fuzzing.assert_problem(response) is None
        response.get_json()
    elif endpoint in EXPORTS and response.status_code == 200:
        fuzzing.assert_well_formed_file(response)
    else:
        fuzzing.assert_readable_page(response, sent)
    # An export taken is recorded (one entry, with the subjects it names); nothing else writes.
    if endpoint in EXPORTS and response.status_code == 200:
        # (and, every so many entries, a signed checkpoint with its own entry)
        signed = changed.pop("audit_checkpoint", 0)
        assert changed.pop("audit_entry", 0) <= 1 + signed and set(changed) <= {"audit_subject"}, (endpoint, changed)
    else:
        assert changed == {}, (endpoint, changed)


queries = st.dictionaries(st.sampled_from(NAMES) | st.text(min_size=1, max_size=8), hostile.query_value(), max_size=4)


def _runner(settings, endpoint, path, method, send):
    @settings
    @given(params=queries)
    def run(params):
        check(endpoint, path, method, send, params)

    return run


def _fuzz(pages, settings) -> None:
    for endpoint, path, method, send in pages:
        try:
            _runner(settings, endpoint, path, method, send)()
        except Exception as exc:
            exc.add_note(f"page: {method} {path} ({endpoint})")
            raise


def test_every_page_answers_any_query_string(pages):
    assert len(pages) >= 25
    _fuzz(pages, settings(fuzzing.FAST, max_examples=5))


def _sweep(pages, values) -> None:
    """Each page with *values(i)* (the i-th page), each value in every name at once."""
    for i, (endpoint, path, method, send) in enumerate(pages):
        for value in values(i):
            raw = value.encode("utf-8", "surrogatepass")
            try:
                check(endpoint, path, method, send, dict.fromkeys(NAMES, raw))
            except Exception as exc:
                exc.add_note(f"page: {method} {path} ({endpoint}), value {value!r}")
                raise


def test_every_page_answers_a_value_of_each_hostile_kind_in_every_name(pages):
    # Two kinds a page, in turn: every kind meets many pages, within the time of a default run.
    kinds = hostile.ONE_OF_EACH
    _sweep(pages, lambda i: [kinds[(2 * i) % len(kinds)], kinds[(2 * i + 1) % len(kinds)]])


@pytest.mark.slow
def test_every_page_answers_every_hostile_value_in_every_name(pages):
    _sweep(pages, lambda i: hostile.SPECIAL)


@pytest.mark.slow
def test_every_page_answers_any_query_string_at_length(pages):
    _fuzz(pages, fuzzing.SLOW)
