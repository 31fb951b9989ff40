"""Hostile but valid input is answered as what it is, never a 500 (issue: security, findings)."""

import pytest

from registry.services import tokens


@pytest.fixture
def auditor(client, login, world):
    login(world.users["auditor"])
    return client


def test_the_last_day_there_is_is_a_day_like_another(auditor):
    assert auditor.get("/audit/?until=9999-12-31").status_code == 200
    assert auditor.post("/audit/export.csv", data={"until": "9999-12-31"}).status_code == 200


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
        answer = auditor.post("/audit/export.pdf", data={"actor": actor})
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


def test_an_importer_file_that_is_not_utf8_is_refused_by_line(app, session, tmp_path):
    from registry.cli import import_species
    from tests.test_species import _checklist, _taxon

    damaged = tmp_path / "index.csv"
    damaged.write_bytes(_checklist([_taxon(1, "Furcifer pardalis")]).encode() + b"1,Animalia,\xff\xfe\n")
    result = app.test_cli_runner().invoke(import_species, [str(damaged)])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output, result.output


@pytest.mark.parametrize(
    "name, problem",
    [("Furcifer\x00pardalis", "holds a NUL character"), ("Furcifer " + "x" * 410, "longer than 200 characters")],
)
def test_an_importer_row_the_database_cannot_hold_is_refused(app, session, tmp_path, name, problem):
    from registry.cli import import_species
    from registry.models import Species
    from tests.test_species import _checklist, _taxon

    source = tmp_path / "index.csv"
    source.write_text(_checklist([_taxon(1, name)]), encoding="utf-8")
    result = app.test_cli_runner().invoke(import_species, [str(source)])
    assert result.exit_code == 2 and problem in result.output, result.output
    assert session.query(Species).filter(Species.scientific_name.like("Furcifer%")).count() == 0


def test_spreadsheet_formulas_in_csv_cells_are_neutralised(app, auditor, monkeypatch):
    # A request id is the proxy's to choose (a client's, behind a careless proxy), and the export records it.
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    auditor.post("/audit/export.csv", headers={"X-Request-Id": "=HYPERLINK(1)"})
    text = auditor.post("/audit/export.csv", data={"action": "audit.export"}).get_data(as_text=True)
    assert ",'=HYPERLINK(1)," in text and ",=HYPERLINK" not in text


def test_numbers_stay_numbers_in_csv_cells():
    from decimal import Decimal

    from registry.csv_cells import cell

    assert [cell(v) for v in (-3, Decimal("-1.5"), "-x", "@a", "plain")] == [-3, Decimal("-1.5"), "'-x", "'@a", "plain"]


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("report.html", "report.pdf"),
        ("scan.PDF", "scan.PDF"),
        ("photo.jpeg", "photo.pdf"),
        (".htaccess", ".htaccess.pdf"),
    ],
)
def test_a_file_is_kept_and_served_under_a_name_that_ends_as_its_content(client, login, world, sent, kept):
    from werkzeug.http import parse_options_header

    from registry.services import attachments
    from tests.helpers import animal_in

    bird = animal_in(world, "in_captivity")
    row = attachments.attach(world.actor("zoo"), "animal", bird.id, "other", sent, b"%PDF-1.7\n%x\n")
    assert row.filename == kept
    login(world.users["zoo"])
    disposition = client.get(f"/files/{row.id}").headers["Content-Disposition"]
    assert parse_options_header(disposition) == ("attachment", {"filename": kept})


def test_a_client_does_not_choose_its_request_id_or_address(client, login, world, session):
    from registry.models import AuditEntry

    login(world.users["auditor"])
    client.post("/audit/export.csv", headers={"X-Request-Id": "forged-id", "X-Forwarded-For": "203.0.113.9"})
    entry = session.query(AuditEntry).filter_by(action="audit.export").one()
    assert entry.request_id != "forged-id" and entry.client_addr != "203.0.113.9"


def test_behind_a_trusted_proxy_its_headers_are_read(fresh_app):
    from registry import create_app
    from registry.extensions import db
    from registry.models import AuditEntry

    app = create_app({**fresh_app.config, "TRUSTED_PROXIES": 1})
    headers = {"X-Request-Id": "lb-7f3a", "X-Forwarded-For": "203.0.113.9"}
    app.test_client().post("/login", data={"username": "nobody", "password": "x" * 12}, headers=headers)
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="auth.login_failed").one()
        assert (entry.request_id, entry.client_addr) == ("lb-7f3a", "203.0.113.9")
        db.session.remove()
