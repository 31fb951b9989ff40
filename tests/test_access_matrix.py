"""Access control over every route: each role (and an anonymous visitor) x an object of their own and
one of another party x read and write.

The routes come from the Flask URL map and the operations from the OpenAPI document, so a new route
fails here until it is given a line in ACCESS. Each line says which capabilities let one through
(any of them; PUBLIC or LOGIN otherwise) and which kind of object the route acts on. Then:

- allowed: a read answers 200 and writes nothing; a write (sent empty, or with a small valid body)
  answers anything but 401/403/404 or a server error, and is not recorded as a denial;
- denied for lack of the capability: 403; denied because the object is another party's: 404 (its
  existence is not told), 403 where both apply in either order; every denial writes exactly one
  ``access.denied`` entry and changes nothing else (row counts of every table);
- anonymous: the web sends to the login page, the API answers 401, and nothing is written.

Every case runs inside a savepoint that is rolled back, so the cases do not see each other's writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from registry.extensions import db
from registry.machines import ANIMAL, FACILITY, PERMIT, TRANSFER
from registry.models import AuditEntry, Identifier
from registry.permissions import ROLE_CAPABILITIES, Role
from registry.services import attachments, sessions, tokens
from tests import uses
from tests.conftest import import_application
from tests.helpers import endorse_entry, issued_permit, payload

PUBLIC, LOGIN = "public", "login"
#: Only a partner authority's exchange token opens the route: every user's API token is 401, as no
#: token is (tests/test_exchange.py has the partners' own matrix).
PARTNER = "partner"
ANIMAL_READ = ("animal.read_all", "animal.read_own")
PERMIT_READ = ("permit.read_all", "permit.read_own")
TRANSFER_READ = ("transfer.start", "transfer.answer", "transfer.acknowledge", "animal.read_all")
FILE_READ = ("animal.read_all", "animal.read_own", "facility.read_all", "facility.apply")


@dataclass(frozen=True)
class Access:
    """Who may use a route: any of *caps* (or PUBLIC, LOGIN), on an object of *kind* (or none)."""

    caps: tuple[str, ...] | str
    kind: str | None = None
    #: URL arguments that are not an object's id (the action taken, a format...).
    args: tuple[tuple[str, object], ...] = ()
    #: A JSON body that passes the API's schema, so that the refusal is about access, not the body.
    body: dict | None = None


def cap(machine, event: str) -> tuple[str]:
    return (machine.transitions[event].capability,)


#: (endpoint, method) -> Access. The web's actions are taken with one value of their <action>.
ACCESS: dict[tuple[str, str], Access] = {
    ("static", "GET"): Access(PUBLIC, args=(("filename", "app.css"),)),
    ("main.home", "GET"): Access(LOGIN),
    ("auth.login", "GET"): Access(PUBLIC),
    ("auth.login", "POST"): Access(PUBLIC),
    ("auth.logout", "POST"): Access(LOGIN),
    ("auth.set_locale", "POST"): Access(PUBLIC, args=(("code", "ko"),)),
    ("public.verify", "GET"): Access(PUBLIC, "number"),
    ("offline_verify.page", "GET"): Access(PUBLIC),
    ("public.verify_form", "GET"): Access(PUBLIC),
    ("audit.public_key", "GET"): Access(PUBLIC),
    ("profile.index", "GET"): Access(LOGIN),
    ("profile.index", "POST"): Access(LOGIN),
    ("profile.revoke", "POST"): Access(LOGIN, "token"),
    ("profile.end_session", "POST"): Access(LOGIN, "session"),
    ("profile.end_all", "POST"): Access(LOGIN),
    ("profile.second_factor_page", "GET"): Access(LOGIN),
    ("profile.second_factor_page", "POST"): Access(LOGIN),
    ("profile.recovery_codes", "POST"): Access(LOGIN),
    ("passwords.change", "GET"): Access(LOGIN),
    ("passwords.change", "POST"): Access(LOGIN),
    ("auth.code", "GET"): Access(PUBLIC),
    ("auth.code", "POST"): Access(PUBLIC),
    ("admin.reset_second_factor", "POST"): Access(("user.manage",), "user"),
    ("admin.end_sessions", "POST"): Access(("user.manage",), "user"),
    ("admin.users", "GET"): Access(("user.manage",)),
    ("admin.users", "POST"): Access(("user.manage",)),
    ("admin.user", "GET"): Access(("user.manage",), "user"),
    ("admin.user", "POST"): Access(("user.manage",), "user"),
    ("admin.enable", "POST"): Access(("user.manage",), "user", (("what", "enable"),)),
    ("admin.reset_password", "POST"): Access(("user.manage",), "user"),
    ("admin.species", "GET"): Access(("species.manage",), "species"),
    ("admin.species", "POST"): Access(("species.manage",), "species"),
    ("admin.deadline_rules", "GET"): Access(("species.manage",)),
    ("admin.deadline_rules", "POST"): Access(("species.manage",)),
    ("species.index", "GET"): Access(("species.read",)),
    ("animals.index", "GET"): Access(ANIMAL_READ),
    ("animals.show", "GET"): Access(ANIMAL_READ, "animal"),
    ("animals.record_event", "GET"): Access(cap(ANIMAL, "death"), "animal", (("event", "death"),)),
    ("animals.record_event", "POST"): Access(cap(ANIMAL, "death"), "animal", (("event", "death"),)),
    ("animals.add_identifier", "POST"): Access(("animal.identify",), "animal"),
    ("animals.retire_identifier", "POST"): Access(("animal.identify",), "identifier"),
    ("animals.new_birth", "GET"): Access(cap(ANIMAL, "birth")),
    ("animals.new_birth", "POST"): Access(cap(ANIMAL, "birth")),
    ("deadlines.index", "GET"): Access(ANIMAL_READ),
    ("deadlines.export", "GET"): Access(ANIMAL_READ),
    ("permits.index", "GET"): Access(PERMIT_READ),
    ("permits.show", "GET"): Access(PERMIT_READ, "permit"),
    ("permits.pdf", "GET"): Access(PERMIT_READ, "permit"),
    ("permits.epermit_xml", "GET"): Access(PERMIT_READ, "permit"),
    ("permits.receipt", "GET"): Access(PERMIT_READ, "receipt"),
    ("permits.new", "GET"): Access(("permit.apply",)),
    ("permits.new", "POST"): Access(("permit.apply",)),
    ("permits.edit", "GET"): Access(("permit.apply",), "permit"),
    ("permits.edit", "POST"): Access(("permit.apply",), "permit"),
    ("permits.copy", "POST"): Access(("permit.apply",), "permit"),
    ("permits.declare", "POST"): Access(("animal.declare",), "line"),
    ("permits.act", "POST"): Access(cap(PERMIT, "approve"), "permit", (("action", "approve"),)),
    ("customs.find", "GET"): Access(("permit.endorse",)),
    ("customs.endorse", "GET"): Access(("permit.endorse",), "permit"),
    ("customs.endorse", "POST"): Access(("permit.endorse",), "permit"),
    ("facilities.index", "GET"): Access(("facility.apply", "facility.read_all")),
    ("facilities.show", "GET"): Access(("facility.apply", "facility.read_all"), "facility"),
    ("facilities.apply", "GET"): Access(("facility.apply",)),
    ("facilities.apply", "POST"): Access(("facility.apply",)),
    ("facilities.act", "POST"): Access(cap(FACILITY, "inspect"), "facility", (("action", "inspect"),)),
    ("files.download", "GET"): Access(FILE_READ, "attachment"),
    ("files.upload", "POST"): Access(("animal.identify", "facility.manage"), "upload"),
    ("transfers.index", "GET"): Access(TRANSFER_READ),
    ("transfers.show", "GET"): Access(TRANSFER_READ, "transfer"),
    ("transfers.new", "GET"): Access(("transfer.start",)),
    ("transfers.new", "POST"): Access(("transfer.start",)),
    ("transfers.answer_by_code", "POST"): Access(("transfer.answer",)),
    ("transfers.act", "POST"): Access(cap(TRANSFER, "cancel"), "transfer", (("action", "cancel"),)),
    ("reports.annual", "GET"): Access(("report.annual",)),
    ("reports.annual_csv", "GET"): Access(("report.annual",)),
    ("dashboard.index", "GET"): Access(("report.annual", "audit.read")),
    ("audit.index", "GET"): Access(("audit.read",)),
    ("audit.export", "POST"): Access(("audit.read",), args=(("fmt", "csv"),)),
    ("audit.checkpoints", "GET"): Access(("audit.verify",)),
    ("audit.verify", "GET"): Access(("audit.verify",)),
    ("audit.verify", "POST"): Access(("audit.verify",)),
    # The API: bearer tokens, 401 without one.
    ("api_docs.index", "GET"): Access(PUBLIC),
    ("api-docs.openapi_json", "GET"): Access(PUBLIC),
    ("api_meta.me", "GET"): Access(LOGIN),
    ("api_species.list_species", "GET"): Access(("species.read",)),
    ("api_species.get_species", "GET"): Access(("species.read",), "species"),
    ("api_parties.list_parties", "GET"): Access(("party.read_all",)),
    ("api_parties.create_party", "POST"): Access(("party.manage",), body={"kind": "person", "name": "N"}),
    ("api_parties.get_party", "GET"): Access(LOGIN, "party"),
    ("api_animals.list_animals", "GET"): Access(ANIMAL_READ),
    ("api_animals.get_animal", "GET"): Access(ANIMAL_READ, "animal"),
    ("api_animals.list_events", "GET"): Access(ANIMAL_READ, "animal"),
    ("api_animals.record_event", "POST"): Access(
        cap(ANIMAL, "death"), "animal", body={"event": "death", "cause": "old age"}
    ),
    ("api_animals.add_identifier", "POST"): Access(
        ("animal.identify",), "animal", body={"kind": "ring", "value": "R-77"}
    ),
    ("api_animals.retire_identifier", "POST"): Access(("animal.identify",), "animal_identifier", body={}),
    ("api_facilities.list_facilities", "GET"): Access(LOGIN),
    ("api_facilities.get_facility", "GET"): Access(LOGIN, "facility"),
    ("api_facilities.create_facility", "POST"): Access(
        ("facility.apply",),
        body={"name": "N", "address": "A", "allowances": [{"species_id": 1, "capacity": 1}]},
    ),
    **{
        ("api_facilities.facility_" + event, "POST"): Access(cap(FACILITY, event), "facility", body={})
        for event in ("approve", "change_capacity", "close", "inspect", "refuse", "request_changes", "resubmit")
    },
    ("api_permits.list_permits", "GET"): Access(PERMIT_READ),
    ("api_permits.get_permit", "GET"): Access(PERMIT_READ, "permit"),
    ("api_permits.permit_pdf", "GET"): Access(PERMIT_READ, "permit"),
    ("api_permits.permit_epermit_xml", "GET"): Access(PERMIT_READ, "permit"),
    ("api_permits.record_foreign_document", "POST"): Access(("permit.review",), "permit", body={}),
    ("api_permits.create_permit", "POST"): Access(("permit.apply",), body="application"),  # type: ignore[arg-type]
    ("api_permits.update_permit", "PUT"): Access(("permit.apply",), "permit", body="application"),  # type: ignore[arg-type]
    ("api_permits.copy_permit", "POST"): Access(("permit.apply",), "permit", body={}),
    ("api_permits.endorse_permit", "POST"): Access(
        ("permit.endorse",),
        "permit",
        body={"direction": "entry", "port": "ICN", "transport_doc": "AWB", "lines": [{"line_no": 1, "quantity": 1}]},
    ),
    ("api_permits.declare_animal", "POST"): Access(("animal.declare",), "line", body={"sex": "F"}),
    **{
        ("api_permits.permit_" + event, "POST"): Access(cap(PERMIT, event), "permit", body={})
        for event in (
            "approve",
            "cancel",
            "close",
            "expire",
            "issue",
            "refuse",
            "request_changes",
            "submit",
            "withdraw",
        )
    },
    ("api_reports.annual", "GET"): Access(("report.annual",), args=(("year", 2026),)),
    ("api_transfers.list_transfers", "GET"): Access(TRANSFER_READ),
    ("api_transfers.get_transfer", "GET"): Access(TRANSFER_READ, "transfer"),
    ("api_transfers.start_transfer", "POST"): Access(("transfer.start",), body={"animal_ids": [1], "facility_id": 1}),
    **{
        ("api_transfers.transfer_" + event, "POST"): Access(cap(TRANSFER, event), "transfer", body={})
        for event in ("accept", "acknowledge", "cancel", "decline")
    },
    ("api_audit.list_audit", "GET"): Access(("audit.read",)),
    ("api_audit.list_checkpoints", "GET"): Access(("audit.verify",)),
    ("api_audit.verify_audit", "GET"): Access(("audit.verify",)),
    ("api_exchange.get_final_document", "GET"): Access(PARTNER),
    ("api_exchange.get_non_final_document", "GET"): Access(PARTNER),
    ("api_exchange.confirm_quantities", "POST"): Access(PARTNER),
    ("api_exchange.service_state", "GET"): Access(PARTNER),
}

#: The user who plays each role; own objects are the zoo's, the other party's are the breeder's.
PLAYERS = {
    Role.ADMIN: "admin",
    Role.MINISTRY_OFFICER: "officer",
    Role.CUSTOMS_OFFICER: "customs",
    Role.KEEPER: "zoo",
    Role.AUDITOR: "auditor",
}


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route the application serves."""
    return sorted(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    )


def test_every_route_and_every_api_operation_is_classified(app, client):
    served = {(endpoint, method) for endpoint, method, _rule in routes(app)}
    assert sorted(served - ACCESS.keys()) == [], "classify the new routes in ACCESS"
    assert sorted(ACCESS.keys() - served) == [], "ACCESS names routes that no longer exist"
    # The OpenAPI document, operation by operation: each is a served, classified API route.
    spec = client.get("/api/v1/openapi.json").get_json()
    api_rules = {
        (_openapi_path(rule), method.lower()) for endpoint, method, rule in routes(app) if rule.startswith("/api/v1/")
    }
    operations = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    assert sorted(operations - api_rules) == []
    documented = {rule for rule in api_rules if not rule[0].endswith(("/docs", "/openapi.json"))}
    assert sorted(documented - operations) == [], "an API route missing from the OpenAPI document"


def _openapi_path(rule: str) -> str:
    """/api/v1/permits/<int(min=1, max=2147483647):permit_id> as /api/v1/permits/{permit_id}."""
    import re

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


@dataclass
class Objects:
    """For each kind of object, the URL arguments of the zoo's ("own") and the breeder's ("other")."""

    own: dict[str, dict]
    other: dict[str, dict]
    application: dict


def _party_objects(world, keeper: str, permit, site: int, chip: str) -> dict[str, dict]:
    animal = uses.declare(
        world.operator, permit.lines[0].id, {"sex": "F", "identifiers": [{"kind": "microchip", "value": chip}]}
    )
    uses.fire(world.operator, animal.id, "enter", payload(world, "enter"))
    animal = uses.fire(world.operator, animal.id, "register", {"facility_id": site})
    mark = db.session.query(Identifier).filter_by(animal_id=animal.id).one()
    party = world.zoo if keeper == "zoo" else world.breeder
    offer = uses.offer(world.actor(keeper), {"animal_ids": [animal.id], "facility_id": world.rescue})
    file = attachments.attach(world.actor(keeper), "animal", animal.id, "other", "a.pdf", b"%PDF-1.7\n%x\n")
    endorsement = permit_endorsement(permit)
    return {
        "animal": {"animal_id": animal.id},
        "identifier": {"identifier_id": mark.id},
        "animal_identifier": {"animal_id": animal.id, "identifier_id": mark.id},
        "permit": {"permit_id": permit.id},
        "line": {"permit_id": permit.id, "line_no": 1},
        "receipt": {"permit_id": permit.id, "endorsement_id": endorsement},
        "facility": {"facility_id": site},
        "transfer": {"transfer_id": offer.id},
        "attachment": {"attachment_id": file.id},
        "upload": {"object_type": "animal", "object_id": animal.id},
        "party": {"party_id": party},
        "user": {"user_id": world.users[keeper].id},
        "species": {"species_id": world.parrot},
        "number": {"number": permit.number, "t": permit.security_token},
    }


def permit_endorsement(permit) -> int:
    from registry.models import Endorsement

    return db.session.query(Endorsement).filter_by(permit_id=permit.id).one().id


@pytest.fixture
def objects(world) -> Objects:
    zoo_permit = endorse_entry(world, issued_permit(world), 1)
    theirs = uses.create_application(world.actor("breeder"), import_application(world, importer_party_id=world.breeder))
    uses.permit_event(world.actor("breeder"), theirs.id, "submit")
    uses.permit_event(world.actor("officer"), theirs.id, "approve")
    breeder_permit = endorse_entry(world, uses.permit_event(world.actor("officer2"), theirs.id, "issue"), 1)
    own = _party_objects(world, "zoo", zoo_permit, world.zoo_site, "900000000000001")
    other = _party_objects(world, "breeder", breeder_permit, world.breeder_site, "900000000000002")
    return Objects(own, other, import_application(world))


def _visible(kind: str | None, role: Role, variant: str) -> bool:
    """Whether the role sees the object: a keeper only its own party's; tokens only their owner
    (and the administrators)."""
    if kind in (None, "species", "number") or variant == "own":
        return True
    if kind in ("token", "session"):
        return role is Role.ADMIN
    return role is not Role.KEEPER


def _expected(access: Access, role: Role | None, variant: str) -> set[int] | None:
    """The denial's statuses, or None when the request is allowed."""
    if access.caps == PUBLIC:
        return None
    if role is None or access.caps == PARTNER:
        return set()  # anonymous: checked on its own
    allowed = access.caps == LOGIN or any(c in ROLE_CAPABILITIES[role] for c in access.caps)
    visible = _visible(access.kind, role, variant)
    if allowed and visible:
        return None
    if not visible and access.kind == "party":
        return {403}  # another party's record needs party.read_all, whether or not it exists
    if not allowed and not visible:
        return {403, 404}  # which check comes first is the route's affair: both tell nothing
    return {403} if not allowed else {404}


def _counts(conn) -> dict[str, int]:
    tables = [t.name for t in db.metadata.sorted_tables]
    row = conn.execute(text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables))).one()
    return dict(zip(tables, row, strict=True))


def _cases(app):
    for endpoint, method, _rule in routes(app):
        access = ACCESS[(endpoint, method)]
        for variant in ("own", "other") if access.kind else ("own",):
            yield endpoint, method, access, variant


def _url(app, endpoint: str, access: Access, values: dict) -> str:
    from flask import url_for

    with app.test_request_context():
        return url_for(endpoint, **values, **dict(access.args))


def _body(access: Access, objects: Objects):
    if access.body == "application":
        return objects.application
    return access.body if access.body is not None else {}


@pytest.mark.parametrize("role", [*Role, None], ids=lambda r: r.value if r else "anonymous")
def test_access_matrix(app, client, login, world, objects, session, role):
    user = world.users[PLAYERS[role]] if role else None
    secret = tokens.create_token(world.operator, user.id, "matrix")[1] if user else None
    own_token = tokens.tokens_of(user.id)[0].id if user else 0
    others_token = tokens.create_token(world.operator, world.users["breeder"].id, "theirs")[0].id
    own_session = (
        sessions.find(sessions.start(user, second_factor=True, client_addr=None, user_agent="own")) if user else None
    )
    others_session = sessions.find(
        sessions.start(world.users["breeder"], second_factor=False, client_addr=None, user_agent="theirs")
    )
    conn = session.connection()
    problems = []
    for endpoint, method, access, variant in _cases(app):
        values = dict((objects.own if variant == "own" else objects.other).get(access.kind, {}))
        if access.kind == "token":
            values = {"token_id": own_token if variant == "own" else others_token}
        if access.kind == "session":
            values = {"session_id": (own_session.id if own_session else 0) if variant == "own" else others_session.id}
        url = _url(app, endpoint, access, values)
        api = url.startswith("/api/")
        expected = _expected(access, role, variant)
        if user is not None and not api:
            login(user)  # a signed-in session of its own (a row), before the case's savepoint
        # A savepoint of our own, unknown to SQLAlchemy: the request's sessions nest theirs inside it.
        conn.exec_driver_sql("SAVEPOINT matrix_case")
        try:
            before = _counts(conn)
            seq = session.query(db.func.max(AuditEntry.seq)).scalar()
            headers = {"Authorization": f"Bearer {secret}"} if api and secret else {}
            if api and method != "GET":
                response = client.open(url, method=method, json=_body(access, objects), headers=headers)
            else:
                response = client.open(url, method=method, headers=headers, data={} if method != "GET" else None)
            status = response.status_code
            response.get_data()
            response.close()
            new = session.query(AuditEntry).filter(AuditEntry.seq > (seq or 0)).all()
            after = _counts(conn)
            changed = {t for t in before if before[t] != after[t] and not t.startswith("audit_")}
            where = f"{role and role.value} {variant} {method} {url} -> {status}"
            if expected is None:  # allowed
                if status >= 500 or status in (401, 403, 404) or any(e.action == "access.denied" for e in new):
                    problems.append(f"{where}: refused although allowed")
                elif method == "GET" and (status not in (200, 302) or new or changed):
                    problems.append(f"{where}: a read answered so, or wrote {[e.action for e in new]} {changed}")
            elif access.caps == PARTNER:
                if status != 401 or new or changed:
                    problems.append(f"{where}: a user's token (or none) opened a partner's route, or wrote")
            elif role is None:
                if api:
                    ok = status == 401
                else:
                    ok = status == 302 and "/login" in response.headers["Location"]
                if not ok or new or changed:
                    problems.append(f"{where}: anonymous not sent to log in, or something was written")
            elif status not in expected:
                problems.append(f"{where}: expected {sorted(expected)}")
            elif [e.action for e in new] != ["access.denied"] or changed:
                problems.append(f"{where}: the denial wrote {[e.action for e in new]}, changed {changed}")
            elif new[0].actor_name != user.username or new[0].after["status"] != status:
                problems.append(f"{where}: the denial's entry is {new[0].actor_name} {new[0].after}")
        finally:
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT matrix_case")
            conn.exec_driver_sql("RELEASE SAVEPOINT matrix_case")
            session.expire_all()
    assert not problems, "\n".join(problems)
