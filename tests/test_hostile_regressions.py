"""What the hostile-input fuzzing found, each in the minimal form Hypothesis reduced it to."""

import pytest

from registry.models import Animal, AuditEntry, DeadlineSetting, Permit
from tests import fuzzing
from tests.helpers import issued_permit


def test_a_declaration_refused_by_its_form_says_so(client, login, world, session):
    # Was: a redirect to the permit with nothing written and nothing said.
    permit = issued_permit(world)
    login(world.users["officer"])
    before = fuzzing.row_counts()
    answer = client.post(f"/permits/{permit.id}/lines/1/animals", data={"sex": "<script>alert(1)</script>"})
    assert answer.status_code == 302 and fuzzing.row_counts() == before
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'class="flash error"' in page and "Not declared" in page and "Not a valid choice" in page


def test_a_declaration_on_a_line_the_permit_does_not_have_is_not_found(client, login, world, session):
    permit = issued_permit(world)
    login(world.users["officer"])
    assert client.post(f"/permits/{permit.id}/lines/9/animals", data={"sex": "F"}).status_code == 404
    assert session.query(Animal).filter(Animal.permit_line_id.in_([line.id for line in permit.lines])).count() == 0


def test_a_deadline_refused_by_its_form_says_so(client, login, world, session):
    # Was: the page again, unchanged, with no error anywhere on it.
    login(world.users["admin"])
    page = client.post("/admin/deadlines", data={"code": "carcass_disposal", "days": "<script>alert(1)</script>"})
    assert page.status_code == 200 and 'class="flash error"' in page.get_data(as_text=True)
    assert session.get(DeadlineSetting, "carcass_disposal") is None


@pytest.mark.parametrize("quantity", [str(10**30), "1" * 29, "1e40"])
def test_a_quantity_past_decimal_precision_is_refused_as_too_large(client, login, world, session, quantity):
    # Was: decimal.InvalidOperation from quantize, a 500 (from the form and the API alike).
    from registry.commands import load
    from registry.commands.permits import ApplicationSchema
    from registry.services.errors import ValidationFailed
    from tests.conftest import import_application

    data = import_application(world, lines=[{"species_id": world.parrot, "term_code": "LIV", "quantity": quantity}])
    with pytest.raises(ValidationFailed) as refused:
        load(ApplicationSchema, data)
    assert "lines.0.quantity" in refused.value.fields
    login(world.users["zoo"])
    form = {
        "doc_type": "import",
        "exporter_party_id": str(world.exporter),
        "import_country": "KR",
        "export_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "za-1",
        "lines-0-species_id": str(world.parrot),
        "lines-0-term_code": "LIV",
        "lines-0-quantity": quantity,
    }
    page = client.post("/permits/new", data=form)
    assert page.status_code == 200 and "at most 3 decimals" in page.get_data(as_text=True)
    assert session.query(Permit).count() == 0


@pytest.mark.parametrize(
    "path, body",
    [
        ("/animals/?q=caf%E9", None),  # Latin-1, not UTF-8
        ("/permits/?state=%ED%A0%80", None),  # a lone surrogate, as UTF-8 cannot write it
        ("/profile/", b"name=caf%E9&days=30"),
        ("/profile/", b"name=caf\xe9&days=30"),
    ],
)
def test_text_that_is_not_utf8_is_refused_not_stored_as_replacement_characters(client, login, world, path, body):
    # Was: read as U+FFFD and stored, a value nobody typed.
    login(world.users["zoo"])
    before = fuzzing.row_counts()
    if body is None:
        answer = client.get(path)
    else:
        answer = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400 and "not valid UTF-8" in answer.get_data(as_text=True)
    assert fuzzing.row_counts() == before


def test_text_that_is_not_utf8_is_a_problem_in_the_api(client, world, api_tokens):
    answer = client.get("/api/v1/animals?q=%FF", headers={"Authorization": f"Bearer {api_tokens['officer']}"})
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert "UTF-8" in answer.json["detail"]


def test_an_audit_page_before_a_number_past_the_database_integer_is_every_entry(client, login, world, session):
    # Was: on PostgreSQL, "integer out of range" (the bound let everything below 2**62 through).
    login(world.users["auditor"])
    assert session.query(AuditEntry).count() > 1
    assert client.get("/audit/?before=2147483648").status_code == 200


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested too deeply"),  # parses, but past any body the API takes
        (b'{"name": ' + b"1" * 5000 + b"}", "not valid JSON"),  # past Python's 4,300 digits
    ],
)
def test_json_past_what_the_parser_survives_is_a_problem_not_a_500(client, world, api_tokens, body, problem):
    # Was: RecursionError and ValueError out of the parser, each a 500.
    headers = {"Authorization": f"Bearer {api_tokens['officer']}", "Content-Type": "application/json"}
    before = fuzzing.row_counts()
    answer = client.post("/api/v1/parties", data=body, headers=headers)
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json", answer.status_code
    assert problem in answer.json["detail"] and fuzzing.row_counts() == before


def test_an_importer_field_past_the_csv_limit_is_refused_by_line(app, session, tmp_path):
    # Was: _csv.Error "field larger than field limit (131072)" as a traceback.
    from registry.cli import import_species
    from registry.models import Species
    from tests.test_species import _checklist, _taxon

    source = tmp_path / "index.csv"
    source.write_text(_checklist([_taxon(1, "Furcifer pardalis")]) + '"' + "x" * 140_000 + '"\n', encoding="utf-8")
    before = session.query(Species).count()
    result = app.test_cli_runner().invoke(import_species, [str(source)])
    assert result.exit_code == 2 and "not a CSV file the import can read" in result.output, result.output
    assert session.query(Species).count() == before


def test_a_public_key_file_that_is_not_text_is_refused_in_words(app, session, tmp_path):
    # Was: UnicodeDecodeError as a traceback from `registry audit verify --key`.
    from registry.cli import verify_audit

    key = tmp_path / "key.pem"
    key.write_bytes(b"\xff")
    result = app.test_cli_runner().invoke(verify_audit, ["--key", str(key)])
    assert result.exit_code == 2 and "is not an Ed25519 public key in PEM form" in result.output, result.output


@pytest.mark.parametrize("party", [" ", "\t"])
def test_a_party_of_spaces_is_no_party(client, login, world, session, party):
    # Was: int(" ") in the view, a 500 (the Optional validator lets blank choices through unchecked).
    from registry.models import User

    login(world.users["admin"])
    data = {"username": "clerk", "role": "auditor", "password": "a long enough passphrase 7", "party_id": party}
    assert client.post("/admin/users", data=data).status_code == 302
    assert session.query(User).filter_by(username="clerk").one().party_id is None
    edited = {"display_name": "Audit Kim", "role": "auditor", "party_id": party}
    assert client.post(f"/admin/users/{world.users['auditor'].id}", data=edited).status_code == 302
