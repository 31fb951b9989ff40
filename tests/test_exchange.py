"""Exchange with partner authorities (/api/v1/exchange): EPIX's operations for a partner's Management
Authority and customs, each with tokens of its own, rate-limited and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from registry import clock
from registry.extensions import db, limiter
from registry.models import Animal, AuditEntry, Endorsement, ExchangeToken, PartnerIdempotentRequest, Permit
from registry.models.base import utcnow
from registry.services import exchange, tokens
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.conftest import import_application
from tests.helpers import issued_permit, permit_in

PROBLEM = "application/problem+json"
BASE = "/api/v1/exchange"


@pytest.fixture(autouse=True)
def _fresh_limits():
    """The limits are counted in the app's memory, by partner id: ids come back after a rollback."""
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def partners(world):
    """A partner per role: ours (KR) customs, South Africa's (the world's trading partner) authority
    and customs, and France's authority (on none of the world's documents). Name -> (partner, secret)."""
    made = {}
    for name, country, role in (
        ("kr_customs", "KR", "customs"),
        ("za_ma", "ZA", "management_authority"),
        ("za_customs", "ZA", "customs"),
        ("fr_ma", "FR", "management_authority"),
    ):
        partner = exchange.add_partner(world.operator, country, f"{name} office", role)
        made[name] = (partner, exchange.issue_token(world.operator, partner.id, "tests")[1])
    return made


@pytest.fixture
def call(client, partners):
    """call(partner, method, path, json=None, query=None, headers=None) with that partner's token;
    partner None sends no token, a string starting "wr" is sent as the token itself."""

    def _call(who, method, path, json=None, query=None, headers=None):
        secret = who if who is None or who.startswith("wr") else partners[who][1]
        all_headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        all_headers.update(headers or {})
        return client.open(f"{BASE}{path}", method=method, json=json, query_string=query, headers=all_headers)

    return _call


def final_query(permit: Permit, **overrides) -> dict:
    return {"CertificateNumber": permit.number, "TokenId": permit.security_token, "IsoCountryCode": "KR"} | overrides


def confirmation(permit: Permit, *positions: tuple[object, object], **more) -> dict:
    return {
        "CertificateNumber": permit.number,
        "TokenId": permit.security_token,
        "IsoCountryCode": "KR",
        "ConfirmedQuantities": {"CitesPosition": [{"ID": i, "InspectedUnitQuantity": q} for i, q in positions]},
        **more,
    }


def entries(action: str) -> list[AuditEntry]:
    return db.session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.seq).all()


def export_with_feathers(w) -> Permit:
    """An issued export permit to South Africa of parrot feathers (not animals followed one by one)."""
    p = uses.create_application(
        w.actor("officer"),
        {
            "doc_type": "export",
            "applicant_party_id": w.zoo,
            "importer_party_id": w.exporter,
            "exporter_party_id": w.zoo,
            "import_country": "ZA",
            "export_country": "KR",
            "purpose_code": "T",
            "source_code": "C",
            "foreign_permit_no": "ZA-IMP-77",
            "foreign_permit_date": "2026-10-01",
            "lines": [
                {"species_id": w.parrot, "term_code": "FEA", "quantity": "10"},
                {"species_id": w.python, "term_code": "LIV", "quantity": "1"},
            ],
        },
    )
    uses.permit_event(w.actor("officer"), p.id, "submit")
    uses.permit_event(w.actor("officer2"), p.id, "approve")
    return uses.permit_event(w.actor("officer3"), p.id, "issue")


# ---------------------------------------------------------------- authentication


def test_no_token_is_401_problem(call, world):
    permit = issued_permit(world)
    for method, path, kwargs in (
        ("GET", "/final-document", {"query": final_query(permit)}),
        ("GET", "/service-state", {"query": {"IsoCountryCode": "KR"}}),
        ("POST", "/confirmed-quantities", {"json": confirmation(permit, ("A", 1))}),
    ):
        response = call(None, method, path, **kwargs)
        assert response.status_code == 401 and response.mimetype == PROBLEM, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert db.session.query(Endorsement).count() == 0


def test_a_users_api_token_opens_nothing_here_and_a_partner_token_nothing_else(call, client, world, partners):
    permit = issued_permit(world)
    user_secret = tokens.create_token(world.operator, world.users["customs"].id, "mine")[1]
    assert call(user_secret, "GET", "/final-document", query=final_query(permit)).status_code == 401
    refused = call(user_secret, "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    assert refused.status_code == 401
    partner_secret = partners["kr_customs"][1]
    for path in ("/api/v1/me", f"/api/v1/permits/{permit.id}", "/api/v1/permits"):
        assert client.get(path, headers={"Authorization": f"Bearer {partner_secret}"}).status_code == 401, path
    assert db.session.get(Permit, permit.id).state == "issued"


def test_revoked_expired_unknown_and_disabled_partners_tokens_are_401(call, world, partners, session):
    permit = issued_permit(world)
    query = final_query(permit)
    za_ma, secret = partners["za_ma"]
    assert call("za_ma", "GET", "/final-document", query=query).status_code == 200
    token = session.query(ExchangeToken).filter_by(partner_id=za_ma.id).one()
    exchange.revoke_token(world.operator, token.id)
    assert call("za_ma", "GET", "/final-document", query=query).status_code == 401
    with pytest.raises(Conflict):
        exchange.revoke_token(world.operator, token.id)
    # Expired.
    fresh, secret = exchange.issue_token(world.operator, za_ma.id, "second")
    assert call(secret, "GET", "/final-document", query=query).status_code == 200
    fresh.expires_at = fresh.expires_at - timedelta(days=400)
    session.flush()
    assert call(secret, "GET", "/final-document", query=query).status_code == 401
    # A made-up token of the right shape, and the disabled partner's still valid token.
    assert call("wrx_" + "x" * 43, "GET", "/final-document", query=query).status_code == 401
    kr_customs, kr_secret = partners["kr_customs"]
    exchange.disable_partner(world.operator, kr_customs.id)
    assert call(kr_secret, "GET", "/final-document", query=query).status_code == 401
    assert call(kr_secret, "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1))).status_code == 401
    assert db.session.query(Endorsement).count() == 0


@pytest.fixture
def certified(world, partners, session):
    """South Africa's authority with a client certificate; returns its fingerprint as nginx writes it."""
    given = "AB:CD:" + ":".join(["0F"] * 18)
    exchange.set_certificate(world.operator, partners["za_ma"][0].id, given)
    return given.replace(":", "")


def test_a_client_certificate_counts_only_behind_a_trusted_proxy(client, app, world, certified, monkeypatch):
    permit = issued_permit(world)
    header = app.config["EXCHANGE_CERT_HEADER"]

    def get(fingerprint: str, **headers):
        return client.get(
            f"{BASE}/final-document", query_string=final_query(permit), headers={header: fingerprint, **headers}
        )

    assert get(certified).status_code == 401  # a client could send the header itself
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    seen = get(certified.lower())
    assert seen.status_code == 200 and seen.json["number"] == permit.number
    assert entries("exchange.final_document")[-1].actor_name == "partner:ZA:za_ma office"
    assert get("00" * 20).status_code == 401
    # A token given is the one that counts: a wrong one is not saved by the certificate.
    assert get(certified, Authorization="Bearer wrx_wrong").status_code == 401
    za = exchange.partner_by_certificate(certified)
    exchange.disable_partner(world.operator, za.id)
    assert get(certified).status_code == 401


def test_certificates_are_audited_checked_and_one_partner_each(world, partners, certified):
    (entry,) = entries("exchange_partner.certificate")
    assert entry.before == {"cert_fingerprint": None} and entry.after == {"cert_fingerprint": certified.lower()}
    with pytest.raises(ValidationFailed):
        exchange.set_certificate(world.operator, partners["fr_ma"][0].id, "not-a-fingerprint")
    with pytest.raises(Conflict):
        exchange.set_certificate(world.operator, partners["fr_ma"][0].id, certified)
    exchange.set_certificate(world.operator, partners["za_ma"][0].id, None)
    assert exchange.partner_by_certificate(certified) is None


# ---------------------------------------------------------------- final documents


def test_final_document_as_json_with_what_is_left(call, world, partners):
    permit = issued_permit(world)
    response = call("za_ma", "GET", "/final-document", query=final_query(permit))
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["final"] is True and body["number"] == permit.number and body["status"] == "valid"
    assert (body["import_country"], body["export_country"]) == ("KR", "ZA")
    assert body["exporter"]["country"] == "ZA" and body["importer"]["name"] == "City Zoo"
    (line,) = body["lines"]
    assert (line["ID"], line["species"], line["term"], line["quantity"], line["left"]) == (
        "A",
        "Psittacus erithacus",
        "LIV",
        "3",
        "3",
    )
    assert "security_token" not in body and "TokenId" not in body
    (entry,) = entries("exchange.final_document")
    assert entry.actor_name == "partner:ZA:za_ma office" and entry.actor_role == "partner:management_authority"
    assert entry.actor_id is None and entry.object_id == str(permit.id) and entry.after["format"] == "json"


def test_a_wrong_token_an_unknown_number_another_country_are_the_same_404(call, world):
    permit = issued_permit(world)
    answers = [
        call("za_ma", "GET", "/final-document", query=query)
        for query in (
            final_query(permit, TokenId="wrong"),
            final_query(permit, CertificateNumber="KR/1999/999999"),
            final_query(permit, IsoCountryCode="ZA"),
        )
    ]
    # France is on none of the document's sides: it learns nothing either.
    answers.append(call("fr_ma", "GET", "/final-document", query=final_query(permit)))
    assert {r.status_code for r in answers} == {404}
    assert {r.mimetype for r in answers} == {PROBLEM}
    assert len({r.json["detail"] for r in answers}) == 1
    denied = entries("access.denied")
    assert len(denied) == 4 and {e.actor_name for e in denied} == {"partner:ZA:za_ma office", "partner:FR:fr_ma office"}
    assert entries("exchange.final_document") == []


def test_final_document_is_not_an_application(call, world):
    application = permit_in(world, "approved")
    assert application.number is None
    query = {"CertificateNumber": str(application.id), "TokenId": "x", "IsoCountryCode": "KR"}
    assert call("za_ma", "GET", "/final-document", query=query).status_code == 404


@pytest.fixture
def signing(app, tmp_path, monkeypatch):
    """The app signs documents with a development CA; returns its root's PEM (the partner's trust anchor)."""
    from registry import document_keys

    key, chain = tmp_path / "key.pem", tmp_path / "chain.pem"
    document_keys.create_dev_ca(key, chain, organisation="Test Authority")
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_KEY", str(key))
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_CERT", str(chain))
    return document_keys.load(app.config).chain_pems[-1]


def test_final_document_as_signed_xml(call, world, signing, session):
    from registry import epermit

    permit = issued_permit(world)
    call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    session.expire_all()
    response = call("za_ma", "GET", "/final-document", query=final_query(permit), headers={"Accept": "application/xml"})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    read = epermit.verify_xml(response.data, signing)  # valid against the schema, signed by our authority
    assert read["number"] == permit.number and read["is_application"] is False
    assert read["lines"][0]["scientific_name"] == "Psittacus erithacus"
    assert entries("exchange.final_document")[-1].after["format"] == "xml"
    # A wrong token is the same 404 in XML as in JSON, as a problem document.
    wrong = final_query(permit, TokenId="wrong")
    refused = call("za_ma", "GET", "/final-document", query=wrong, headers={"Accept": "application/xml"})
    assert refused.status_code == 404 and refused.mimetype == PROBLEM


def test_non_final_document_as_xml_is_the_application_unsigned(call, world):
    from registry.epermit import reader, schema

    application = permit_in(world, "submitted")
    query = {"CertificateNumber": str(application.id), "IsoCountryCode": "KR"}
    response = call("za_ma", "GET", "/non-final-document", query=query, headers={"Accept": "application/xml"})
    assert response.status_code == 200 and response.mimetype == "application/xml"
    tree = schema.parse(response.data)
    schema.validate(tree)
    assert b"Signature" not in response.data
    read = reader.from_element(tree.getroot()).as_dict()
    assert read["is_application"] is True and read["number"] == str(application.id)


def test_final_document_query_is_checked(call, world):
    refused = call("za_ma", "GET", "/final-document", query={"CertificateNumber": "KR/2026/1"})
    assert refused.status_code == 422 and {"TokenId", "IsoCountryCode"} <= set(refused.json["errors"])


# ---------------------------------------------------------------- non-final documents


def test_non_final_only_for_the_authority_on_the_other_side(call, world):
    application = permit_in(world, "submitted")  # an import from South Africa
    query = {"CertificateNumber": str(application.id), "IsoCountryCode": "KR"}
    seen = call("za_ma", "GET", "/non-final-document", query=query)
    assert seen.status_code == 200
    assert seen.json["final"] is False and seen.json["number"] is None and seen.json["reference"] == str(application.id)
    assert seen.json["lines"][0]["species"] == "Psittacus erithacus"
    (entry,) = entries("exchange.non_final_document")
    assert entry.actor_name == "partner:ZA:za_ma office" and entry.object_id == str(application.id)
    # Not France (not the other side), not customs, not our own customs, not for another country.
    for who in ("fr_ma", "za_customs", "kr_customs"):
        assert call(who, "GET", "/non-final-document", query=query).status_code == 404, who
    wrong_country = {"CertificateNumber": str(application.id), "IsoCountryCode": "ZA"}
    assert call("za_ma", "GET", "/non-final-document", query=wrong_country).status_code == 404
    for reference in ("9999999999", "0", "-1", "1e3", "A"):  # past the 32-bit ids too: one 404
        query = {"CertificateNumber": reference, "IsoCountryCode": "KR"}
        assert call("za_ma", "GET", "/non-final-document", query=query).status_code == 404, reference


@pytest.mark.parametrize("state", ["draft", "withdrawn", "refused", "issued"])
def test_non_final_is_neither_a_draft_nor_a_closed_application_nor_an_issued_permit(call, world, state):
    permit = permit_in(world, state)
    query = {"CertificateNumber": str(permit.id), "IsoCountryCode": "KR"}
    assert call("za_ma", "GET", "/non-final-document", query=query).status_code == 404


def test_non_final_of_an_approved_application(call, world):
    application = permit_in(world, "approved")
    query = {"CertificateNumber": str(application.id), "IsoCountryCode": "KR"}
    response = call("za_ma", "GET", "/non-final-document", query=query)
    assert response.status_code == 200 and response.json["status"] == "approved"


# ---------------------------------------------------------------- confirmed quantities


def test_customs_confirmation_is_an_endorsement_by_the_partner(call, world, partners, session):
    permit = issued_permit(world)  # 3 live parrots into Korea
    first = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    assert first.status_code == 201, first.json
    assert first.json["direction"] == "entry" and first.json["officer_name"] == "partner:KR:kr_customs office"
    assert first.json["lines"] == [{"line_no": 1, "quantity": "1", "outcome": "cleared"}]
    session.expire_all()
    assert db.session.get(Permit, permit.id).state == "partly_used"
    (entry,) = entries("permit.endorse")
    assert entry.actor_name == "partner:KR:kr_customs office" and entry.actor_role == "partner:customs"
    assert entry.actor_id is None and entry.after["state"] == "partly_used"
    # The parrot that crossed is in the registry, entered, with the endorsement in its history.
    (parrot,) = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id).all()
    assert parrot.state == "entered"
    assert {(s["type"], s["id"]) for s in entry.subjects} == {("animal", str(parrot.id)), ("permit", str(permit.id))}
    # By line number, with the port and air waybill customs gives: the rest clears, the permit is used.
    rest = confirmation(permit, (1, "2"), Port="Incheon", TransportDocument="AWB 42")
    second = call("kr_customs", "POST", "/confirmed-quantities", json=rest)
    assert second.status_code == 201 and second.json["port"] == "Incheon" and second.json["transport_doc"] == "AWB 42"
    session.expire_all()
    assert db.session.get(Permit, permit.id).state == "used"
    # The partner reads it so.
    final = call("za_ma", "GET", "/final-document", query=final_query(permit)).json
    assert final["status"] == "fully used" and final["lines"][0]["left"] == "0"


def test_more_than_is_left_is_refused_and_nothing_is_written(call, world, session):
    permit = issued_permit(world)
    assert call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 2))).status_code == 201
    endorsements, audit_entries = db.session.query(Endorsement).count(), db.session.query(AuditEntry).count()
    refused = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 2)))
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    session.expire_all()
    assert db.session.query(Endorsement).count() == endorsements
    assert db.session.query(AuditEntry).count() == audit_entries  # a refused change is no denial either
    assert db.session.get(Permit, permit.id).state == "partly_used"


@pytest.mark.parametrize(
    "positions, field",
    [
        ((("B", 1),), "lines.0.line_no"),  # no line B
        ((("A", "1.5"),), "lines.0.quantity"),  # half a parrot
        ((("A", 0),), "ConfirmedQuantities.CitesPosition.0.InspectedUnitQuantity"),
        ((("AA", 1),), "ConfirmedQuantities.CitesPosition.0.ID"),
        ((("A", 1), (1, 1)), "ConfirmedQuantities"),  # the same line twice
        ((), "ConfirmedQuantities.CitesPosition"),
    ],
)
def test_bad_positions_are_422_and_nothing_is_written(call, world, positions, field):
    permit = issued_permit(world)
    refused = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, *positions))
    assert refused.status_code == 422 and field in refused.json["errors"], refused.json
    assert db.session.query(Endorsement).count() == 0


def test_an_authority_only_reads(call, world):
    permit = issued_permit(world)
    refused = call("za_ma", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    assert refused.status_code == 403 and refused.mimetype == PROBLEM
    (denial,) = entries("access.denied")
    assert denial.actor_name == "partner:ZA:za_ma office" and denial.after["capability"] == "permit.endorse"
    assert db.session.query(Endorsement).count() == 0


def test_only_our_customs_confirms_what_crossed_our_border(call, world, session):
    """Box 14 is what crossed our border: a foreign customs reporting what arrived on one of our
    exports would be recorded as our exit at its port, and the consignment counted twice."""
    exported = export_with_feathers(world)
    refused = call("za_customs", "POST", "/confirmed-quantities", json=confirmation(exported, ("A", 10)))
    assert refused.status_code == 404
    assert db.session.query(Endorsement).count() == 0
    done = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(exported, ("A", 10)))
    assert done.status_code == 201 and done.json["direction"] == "exit"
    session.expire_all()
    assert db.session.get(Permit, exported.id).state == "partly_used"
    # Live animals leaving are named one by one by our officers at exit; the exchange cannot name them.
    live = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(exported, ("B", 1)))
    assert live.status_code == 422 and "ConfirmedQuantities.CitesPosition.0.ID" in live.json["errors"]


def test_an_appendix_i_import_granted_first_clears_with_the_export_permit_customs_reads(call, world, session):
    permit = issued_permit(world, foreign_permit_no=None, foreign_permit_date=None)
    assert permit.lines[0].appendix == "I"
    without = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    assert without.status_code == 422 and "foreign_permit_no" in without.json["errors"]
    assert db.session.query(Endorsement).count() == 0
    today = clock.today().isoformat()
    read = confirmation(permit, ("A", 1), ExportPermitNumber="za-exp-9", ExportPermitDate=today)
    done = call("kr_customs", "POST", "/confirmed-quantities", json=read)
    assert done.status_code == 201, done.json
    session.expire_all()
    cleared = db.session.get(Permit, permit.id)
    assert (cleared.foreign_permit_no, cleared.foreign_permit_date.isoformat()) == ("ZA-EXP-9", today)


def test_confirmation_with_a_wrong_token_is_the_same_404(call, world):
    permit = issued_permit(world)
    wrong = confirmation(permit, ("A", 1))
    wrong["TokenId"] = "nope"
    refused = call("kr_customs", "POST", "/confirmed-quantities", json=wrong)
    unknown = confirmation(permit, ("A", 1))
    unknown["CertificateNumber"] = "KR/1999/000001"
    assert refused.status_code == call("kr_customs", "POST", "/confirmed-quantities", json=unknown).status_code == 404
    assert db.session.query(Endorsement).count() == 0


def test_a_cancelled_permit_is_not_confirmed(call, world):
    permit = permit_in(world, "cancelled")
    refused = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)))
    assert refused.status_code == 409
    assert db.session.query(Endorsement).count() == 0


# ---------------------------------------------------------------- retries (Idempotency-Key)


def test_a_confirmation_retried_with_its_key_is_recorded_once(call, world, session):
    """Customs retries after a timeout: the retry gets the first answer, and no second endorsement."""
    permit = issued_permit(world)  # 3 live parrots into Korea
    key = {"Idempotency-Key": "ICN-2026-0001"}
    first = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)), headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 1)), headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    session.expire_all()
    assert db.session.query(Endorsement).count() == 1 and len(entries("permit.endorse")) == 1
    # The same key for another confirmation is refused, not taken for the first.
    other = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 2)), headers=key)
    assert other.status_code == 422 and "different request" in other.json["errors"]["Idempotency-Key"]
    session.expire_all()
    assert db.session.query(Endorsement).count() == 1
    assert db.session.get(Permit, permit.id).state == "partly_used"


def test_partners_keys_are_their_own(call, world, session):
    """Another partner sending the same key with the same request is not answered from the first
    partner's stored answer: it runs as its own (here refused: South Africa's customs does not
    clear at our border)."""
    imported = issued_permit(world)
    key = {"Idempotency-Key": "batch-1"}
    body = confirmation(imported, ("A", 1))
    ours = call("kr_customs", "POST", "/confirmed-quantities", json=body, headers=key)
    theirs = call("za_customs", "POST", "/confirmed-quantities", json=body, headers=key)
    assert (ours.status_code, theirs.status_code) == (201, 404)
    assert "Idempotent-Replayed" not in theirs.headers
    assert db.session.query(Endorsement).count() == 1
    owners = db.session.scalars(select(PartnerIdempotentRequest.partner_id)).all()
    assert len(owners) == 1


def test_a_refused_confirmation_keeps_no_key(call, world, session):
    permit = issued_permit(world)  # 3 parrots
    key = {"Idempotency-Key": "too-many"}
    refused = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 5)), headers=key)
    assert refused.status_code == 409
    session.expire_all()
    assert db.session.query(PartnerIdempotentRequest).count() == 0
    # Corrected, the same key runs afresh.
    fixed = call("kr_customs", "POST", "/confirmed-quantities", json=confirmation(permit, ("A", 3)), headers=key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert db.session.query(Endorsement).count() == 1


def test_purge_removes_partners_expired_keys(app, call, world, partners, session):
    permit = issued_permit(world)
    for key, line in (("old", ("A", 1)), ("fresh", ("A", 2))):
        done = call(
            "kr_customs",
            "POST",
            "/confirmed-quantities",
            json=confirmation(permit, line),
            headers={"Idempotency-Key": key},
        )
        assert done.status_code == 201
    expired = utcnow() - timedelta(hours=app.config["IDEMPOTENCY_KEY_HOURS"], minutes=1)
    session.execute(
        update(PartnerIdempotentRequest).where(PartnerIdempotentRequest.key == "old").values(created_at=expired)
    )
    session.commit()
    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0 and "deleted 1 " in result.output
    assert session.scalars(select(PartnerIdempotentRequest.key)).all() == ["fresh"]


# ---------------------------------------------------------------- service state, rate limit


def test_service_state(call, world):
    ours = call("fr_ma", "GET", "/service-state", query={"IsoCountryCode": "KR"})
    assert ours.status_code == 200 and ours.json["available"] is True and ours.json["IsoCountryCode"] == "KR"
    assert call("fr_ma", "GET", "/service-state", query={"IsoCountryCode": "FR"}).json["available"] is False
    # A monitoring ping leaves no audit entry (it discloses nothing).
    assert entries("exchange.service_state") == []


def test_each_partner_has_its_own_rate_limit(call, app, world, monkeypatch):
    monkeypatch.setitem(app.config, "EXCHANGE_RATE_LIMIT", "3 per minute")
    query = {"IsoCountryCode": "KR"}
    answers = [call("za_ma", "GET", "/service-state", query=query).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = call("za_ma", "GET", "/service-state", query=query)
    assert limited.status_code == 429 and limited.mimetype == PROBLEM and limited.json["title"] == "Too Many Requests"
    # Another partner, from the same address, is counted apart.
    assert call("fr_ma", "GET", "/service-state", query=query).status_code == 200
    # A caller without a valid token is refused before it is counted against a partner.
    assert call(None, "GET", "/service-state", query=query).status_code == 401


# ---------------------------------------------------------------- partners (operators)


def test_partners_are_audited_and_one_per_role_and_country(world, partners):
    with pytest.raises(Conflict):
        exchange.add_partner(world.operator, "ZA", "Another", "customs")
    for country, role in (("XQ", "customs"), ("K", "customs"), ("DE", "border_police")):
        with pytest.raises(ValidationFailed):
            exchange.add_partner(world.operator, country, "Name", role)
    assert len(entries("exchange_partner.create")) == 4 and len(entries("exchange_token.create")) == 4
    za = partners["za_ma"][0]
    exchange.disable_partner(world.operator, za.id)
    (entry,) = entries("exchange_partner.disable")
    assert entry.before == {"enabled": True} and entry.after == {"enabled": False}
    with pytest.raises(Conflict):
        exchange.disable_partner(world.operator, za.id)
    token_entry = entries("exchange_token.create")[0]
    assert "token_hash" not in token_entry.after and token_entry.after["prefix"].startswith("wrx_")


def test_only_an_administrator_manages_partners(world, partners):
    from registry.services.errors import Forbidden

    with pytest.raises(Forbidden):
        exchange.add_partner(world.actor("officer"), "DE", "Bundesamt", "management_authority")
    with pytest.raises(Forbidden):
        exchange.issue_token(world.actor("customs"), partners["za_ma"][0].id, "mine")
    created = exchange.add_partner(world.actor("admin"), "DE", "Bundesamt", "management_authority")
    assert created.id


def test_cli_adds_lists_disables_partners_and_issues_and_revokes_tokens(app, world):
    from registry.cli import exchange_cli

    runner = app.test_cli_runner()
    added = runner.invoke(exchange_cli, ["partner", "add", "CH", "Swiss CITES MA", "--role", "management_authority"])
    assert added.exit_code == 0, added.output
    partner_id = int(added.output.split()[1])
    issued = runner.invoke(exchange_cli, ["token", "issue", str(partner_id), "--name", "adapter"])
    assert issued.exit_code == 0 and issued.stdout.strip().startswith("wrx_")
    assert exchange.valid_token(issued.stdout.strip()) is not None
    listed = runner.invoke(exchange_cli, ["partner", "list"])
    assert "CH" in listed.output and "Swiss CITES MA" in listed.output and "enabled" in listed.output
    token_id = exchange.tokens_of(partner_id)[0].id
    assert runner.invoke(exchange_cli, ["token", "revoke", str(token_id)]).exit_code == 0
    assert exchange.valid_token(issued.stdout.strip()) is None
    fingerprint = "ab" * 20
    assert runner.invoke(exchange_cli, ["partner", "certificate", str(partner_id), fingerprint]).exit_code == 0
    assert fingerprint in runner.invoke(exchange_cli, ["partner", "list"]).output
    assert runner.invoke(exchange_cli, ["partner", "disable", str(partner_id)]).exit_code == 0
    again = runner.invoke(exchange_cli, ["partner", "disable", str(partner_id)])
    assert again.exit_code == 2 and "already disabled" in again.output
    refused = runner.invoke(exchange_cli, ["partner", "add", "CH", "x", "--role", "pilot"])
    assert refused.exit_code == 2
    actions = [e.action for e in db.session.query(AuditEntry).filter(AuditEntry.actor_name.like("system:cli:%"))]
    assert actions[-5:] == [
        "exchange_partner.create",
        "exchange_token.create",
        "exchange_token.revoke",
        "exchange_partner.certificate",
        "exchange_partner.disable",
    ]


# ---------------------------------------------------------------- who may do what, each partner role


@pytest.mark.parametrize("who", ["kr_customs", "za_ma", "za_customs", "fr_ma"])
def test_partner_access_matrix(call, world, who, session):
    """Each operation for each partner: what it reads, what it may confirm, and nothing else."""
    imported = issued_permit(world)
    application = uses.create_application(world.actor("zoo"), import_application(world))
    uses.permit_event(world.actor("zoo"), application.id, "submit")
    expected = {
        # (final document, non-final document, confirm on our import, service state)
        "kr_customs": (200, 404, 201, 200),
        "za_ma": (200, 200, 403, 200),
        "za_customs": (200, 404, 404, 200),  # our import is not South Africa's border
        "fr_ma": (404, 404, 403, 200),
    }[who]
    got = (
        call(who, "GET", "/final-document", query=final_query(imported)).status_code,
        call(
            who, "GET", "/non-final-document", query={"CertificateNumber": str(application.id), "IsoCountryCode": "KR"}
        ).status_code,
        call(who, "POST", "/confirmed-quantities", json=confirmation(imported, ("A", 1))).status_code,
        call(who, "GET", "/service-state", query={"IsoCountryCode": "KR"}).status_code,
    )
    assert got == expected


def test_the_operations_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    paths = {p: item for p, item in spec["paths"].items() if p.startswith(BASE)}
    assert set(paths) == {
        f"{BASE}/{name}" for name in ("final-document", "non-final-document", "confirmed-quantities", "service-state")
    }
    for name in ("final-document", "non-final-document"):
        answer = paths[f"{BASE}/{name}"]["get"]["responses"]["200"]["content"]
        assert set(answer) == {"application/json", "application/xml"}
    confirm = paths[f"{BASE}/confirmed-quantities"]["post"]
    assert {"201", "401", "403", "404", "409", "415", "422", "429"} <= set(confirm["responses"])
    (key,) = [p for p in confirm["parameters"] if p["in"] == "header"]
    assert key["name"] == "Idempotency-Key" and not key["required"]
    assert "x-idempotent" not in confirm
    body = confirm["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"CertificateNumber", "TokenId", "IsoCountryCode", "ConfirmedQuantities"} <= set(
        spec["components"]["schemas"][body]["properties"]
    )
