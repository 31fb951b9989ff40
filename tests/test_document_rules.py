"""The document rules by appendix, source, direction and population (issue #14): each rule
refuses with its reason on the field it concerns, and the lawful case passes."""

from datetime import date

import pytest

from registry.models import Permit
from registry.services import reference
from registry.services.context import write_transaction
from registry.services.errors import ValidationFailed
from tests import uses
from tests.conftest import FOREIGN_DATE, import_application, species

LONG_AGO = "1970-01-01"


def _import(world, **fields):
    return uses.create_application(
        world.actor("officer"), import_application(world, applicant_party_id=world.zoo, **fields)
    )


def _export(world, doc_type="export", **fields):
    data = {
        "doc_type": doc_type,
        "applicant_party_id": world.zoo,
        "importer_party_id": world.exporter,
        "exporter_party_id": world.zoo,
        "import_country": "ZA",
        "export_country": "KR",
        "purpose_code": "Z",
        "source_code": "C",
        "lines": [{"species_id": world.python, "quantity": "1"}],
    }
    data.update(fields)
    return uses.create_application(world.actor("officer"), data)


def _refused(make, *args, **fields) -> dict:
    with pytest.raises(ValidationFailed) as exc:
        make(*args, **fields)
    return exc.value.fields


def _species(name, appendix="II", populations=(), **fields) -> int:
    with write_transaction():
        return species(name, appendix, populations, **fields)


def _issue(world, permit_id):
    uses.permit_event(world.actor("officer"), permit_id, "submit")
    uses.permit_event(world.actor("officer2"), permit_id, "approve")
    return uses.permit_event(world.actor("officer3"), permit_id, "issue")


# ---------------------------------------------------------------- Appendix I sequence (Art. III)


def test_appendix_i_import_permit_is_granted_first_without_the_export_permit(world):
    permit = _import(world, foreign_permit_no=None, foreign_permit_date=None)
    assert permit.foreign_permit_no is None
    assert _issue(world, permit.id).state == "issued"


@pytest.mark.parametrize("missing", ["foreign_permit_no", "foreign_permit_date"])
def test_appendix_ii_import_needs_the_foreign_document_number_and_date(world, missing):
    lines = [{"species_id": world.python, "quantity": "1"}]
    fields = _refused(_import, world, lines=lines, **{missing: None})
    assert set(fields) == {missing}
    assert "exporting country" in fields[missing]


def test_appendix_i_commercial_import_refused_per_line_unless_source_d(world):
    lines = [
        {"species_id": world.python, "quantity": "1"},
        {"species_id": world.parrot, "quantity": "1", "purpose_code": "T"},
    ]
    fields = _refused(_import, world, lines=lines)
    assert set(fields) == {"lines.1.purpose_code"}
    assert "primarily commercial" in fields["lines.1.purpose_code"]
    lines[1]["source_code"] = "D"
    permit = _import(world, lines=lines)
    assert [(line.source, line.purpose) for line in permit.lines] == [("C", "Z"), ("D", "T")]
    # Only where it differs from the application is a line's code stored.
    assert (permit.lines[0].source_code, permit.lines[1].source_code) == (None, "D")


@pytest.mark.parametrize("source", ["C", "W", "F"])
def test_appendix_i_export_needs_the_import_permit_number_and_date(world, source):
    lines = [{"species_id": world.parrot, "quantity": "1"}]
    fields = _refused(_export, world, lines=lines, source_code=source)
    assert set(fields) == {"foreign_permit_no", "foreign_permit_date"}
    assert "importing country's import permit" in fields["foreign_permit_no"]
    assert _export(
        world, lines=lines, source_code=source, foreign_permit_no="ZA-I-1", foreign_permit_date="2026-01-02"
    ).foreign_permit_date == date(2026, 1, 2)


def test_appendix_i_bred_for_commerce_is_treated_as_appendix_ii(world):
    """Art. VII.4: an Appendix I specimen of source D needs no import permit first."""
    assert _export(world, lines=[{"species_id": world.parrot, "quantity": "1"}], source_code="D").id


def test_source_d_is_for_appendix_i_only(world):
    fields = _refused(_export, world, source_code="D")
    assert "Appendix I" in fields["lines.0.source_code"]


# ---------------------------------------------------------------- certificates


@pytest.mark.parametrize("source, accepted", [("C", True), ("D", True), ("F", False), ("W", False)])
def test_captive_breeding_certificate_is_for_sources_c_and_d(world, source, accepted):
    lines = [{"species_id": world.parrot, "quantity": "1"}]
    extra = {"foreign_permit_no": "ZA-I-2", "foreign_permit_date": "2026-01-02"}
    if accepted:
        assert _export(world, "captive_breeding", lines=lines, source_code=source, **extra).id
    else:
        fields = _refused(_export, world, "captive_breeding", lines=lines, source_code=source, **extra)
        assert "source C or D" in fields["lines.0.source_code"]


def test_pre_convention_certificate_needs_source_o_and_an_acquisition_before_the_listing(world):
    listed = _species("Testudo graeca", listed_on=date(1975, 7, 1))
    line = {"species_id": listed, "quantity": "1"}
    fields = _refused(_export, world, "pre_convention", lines=[line], source_code="C")
    assert "source O" in fields["lines.0.source_code"]
    fields = _refused(_export, world, "pre_convention", lines=[line], source_code="O")
    assert "date of acquisition" in fields["lines.0.acquired_on"]
    fields = _refused(_export, world, "pre_convention", lines=[{**line, "acquired_on": "1980-05-01"}], source_code="O")
    assert "1975-07-01" in fields["lines.0.acquired_on"]
    permit = _export(world, "pre_convention", lines=[{**line, "acquired_on": LONG_AGO}], source_code="O")
    assert permit.lines[0].acquired_on == date(1970, 1, 1)


def test_pre_convention_certificate_refused_when_the_listing_date_is_unknown(world):
    line = {"species_id": world.python, "quantity": "1", "acquired_on": LONG_AGO}
    fields = _refused(_export, world, "pre_convention", lines=[line], source_code="O")
    assert "listing date is not recorded" in fields["lines.0.acquired_on"]


def test_certificate_of_origin_only_for_appendix_iii_not_listed_by_this_country(world):
    fields = _refused(_export, world, "origin")
    assert "Appendix III" in fields["lines.0.species_id"]
    ours = _species("Mauremys ours", "III", listing_countries="KR")
    theirs = _species("Mauremys theirs", "III", listing_countries="CN")
    fields = _refused(_export, world, "origin", lines=[{"species_id": ours, "quantity": "1"}])
    assert "export permit" in fields["lines.0.species_id"]
    assert _export(world, "origin", lines=[{"species_id": theirs, "quantity": "1"}]).id


def test_appendix_iii_export_permit_only_for_a_listing_state(world):
    ours = _species("Mauremys ours", "III", listing_countries="KR")
    theirs = _species("Mauremys theirs", "III", listing_countries="CN")
    fields = _refused(_export, world, lines=[{"species_id": theirs, "quantity": "1"}])
    assert "certificate of origin" in fields["lines.0.species_id"]
    assert _export(world, lines=[{"species_id": ours, "quantity": "1"}]).id


# ---------------------------------------------------------------- re-export: boxes 12 and 12a


def test_reexport_needs_box_12(world):
    fields = _refused(_export, world, "reexport")
    assert set(fields) == {"origin_country", "origin_permit_no", "origin_permit_date"}
    permit = _export(world, "reexport", origin_country="ID", origin_permit_no="id-77", origin_permit_date="2025-03-04")
    assert (permit.origin_country, permit.origin_permit_no, permit.origin_permit_date) == (
        "ID",
        "ID-77",
        date(2025, 3, 4),
    )


def test_box_12a_is_all_or_nothing(world):
    box12 = {"origin_country": "ID", "origin_permit_no": "ID-77", "origin_permit_date": "2025-03-04"}
    fields = _refused(_export, world, "reexport", reexport_country="SG", **box12)
    assert "box 12a" in fields["reexport_country"]
    permit = _export(
        world, "reexport", reexport_country="SG", reexport_permit_no="sg-1", reexport_permit_date="2025-06-01", **box12
    )
    assert (permit.reexport_country, permit.reexport_permit_no) == ("SG", "SG-1")


# ---------------------------------------------------------------- countries and parties


def test_country_of_import_and_export_must_differ(world):
    fields = _refused(_import, world, export_country="KR", exporter_party_id=None)
    assert "must differ" in fields["export_country"]


def test_parties_countries_must_match_the_countries_of_import_and_export(world):
    japanese = reference.create_party(world.operator, "organisation", "Tokyo Traders", country="JP").id
    fields = _refused(_export, world, importer_party_id=japanese)
    assert "country of import" in fields["importer_party_id"]
    fields = _refused(_import, world, export_country="ID")
    assert "country of export" in fields["exporter_party_id"]


# ---------------------------------------------------------------- populations (split listings)


def test_the_line_takes_the_appendix_of_its_population(world):
    elephant = _species("Loxodonta testis", "I", populations=(("BW NA ZA ZW", "II"),))
    line = {"species_id": elephant, "quantity": "1", "origin_country": "ZA"}
    # Of South Africa's population (Appendix II): the export permit's number and date are needed.
    fields = _refused(_import, world, lines=[line], foreign_permit_date=None)
    assert set(fields) == {"foreign_permit_date"}
    assert _import(world, lines=[line]).lines[0].appendix == "II"
    # A line whose specimens come from Kenya: Appendix I, the import permit comes first.
    kenyan = _import(world, lines=[{**line, "origin_country": "KE"}], foreign_permit_no=None, foreign_permit_date=None)
    assert (kenyan.lines[0].appendix, kenyan.lines[0].origin) == ("I", "KE")


def test_a_split_listed_import_names_its_origin_not_its_exporter(world):
    """South Africa may be re-exporting a Kenyan elephant: its exporter's population (Appendix II)
    would lower the appendix and lift the Appendix I rules."""
    elephant = _species("Loxodonta testis", "I", populations=(("BW NA ZA ZW", "II"),))
    fields = _refused(_import, world, lines=[{"species_id": elephant, "quantity": "1", "purpose_code": "T"}])
    assert "country of origin" in fields["lines.0.origin_country"]
    # A species listed as a whole needs no origin to know its appendix.
    assert _import(world, lines=[{"species_id": world.python, "quantity": "1"}]).lines[0].appendix == "II"


def test_an_export_side_document_takes_this_countrys_population(world):
    own_population = _species("Crocodylus testis", "I", populations=(("KR", "II"),))
    exported = _export(world, lines=[{"species_id": own_population, "quantity": "1"}])
    assert exported.lines[0].appendix == "II"


# ---------------------------------------------------------------- carried through


def test_copy_keeps_the_boxes_and_the_lines_own_codes(world, session):
    line = {"species_id": world.parrot, "quantity": "1", "source_code": "D", "purpose_code": "T", "operation_no": "A-1"}
    original = _import(
        world, lines=[line], reexport_country="SG", reexport_permit_no="SG-1", reexport_permit_date="2025-06-01"
    )
    copy = uses.copy_application(world.actor("zoo"), original.id)
    copy = session.get(Permit, copy.id)
    assert (copy.foreign_permit_date, copy.reexport_country, copy.reexport_permit_no) == (
        FOREIGN_DATE,
        "SG",
        "SG-1",
    )
    assert (copy.lines[0].source_code, copy.lines[0].purpose_code, copy.lines[0].operation_no) == ("D", "T", "A-1")


def test_the_application_form_takes_the_new_boxes_and_line_fields(client, login, world, session):
    login(world.users["zoo"])
    form = {
        "doc_type": "import",
        "exporter_party_id": str(world.exporter),
        "import_country": "KR",
        "export_country": "ZA",
        "purpose_code": "Z",
        "source_code": "C",
        "foreign_permit_no": "za-88",
        "foreign_permit_date": "2026-01-05",
        "lines-0-species_id": str(world.python),
        "lines-0-quantity": "2",
        "lines-0-source_code": "F",
        "lines-0-purpose_code": "",
        "lines-0-origin_country": "ZA",
        "lines-0-operation_no": "",
        "lines-0-acquired_on": "",
    }
    assert client.post("/permits/new", data=form).status_code == 302
    permit = session.query(Permit).filter_by(foreign_permit_no="ZA-88").one()
    assert (permit.foreign_permit_date, permit.lines[0].source, permit.lines[0].purpose) == (date(2026, 1, 5), "F", "Z")
    edit = client.get(f"/permits/{permit.id}/edit").get_data(as_text=True)
    assert 'value="2026-01-05"' in edit and '<option selected value="F">' in edit
    shown = client.get(f"/permits/{permit.id}").get_data(as_text=True)
    assert "Z / F / ZA" in shown
    bad = client.post("/permits/new", data=form | {"foreign_permit_date": ""})
    assert bad.status_code == 200 and 'id="foreign_permit_date-err"' in bad.get_data(as_text=True)


def test_the_api_takes_and_shows_the_new_boxes_and_line_fields(api, world):
    body = import_application(world, lines=[{"species_id": world.parrot, "quantity": "1", "operation_no": "A-KR-1"}])
    body |= {"reexport_country": "SG", "reexport_permit_no": "SG-9", "reexport_permit_date": "2025-06-01"}
    created = api("zoo", "POST", "/permits", body)
    assert created.status_code == 201, created.json
    shown = api("zoo", "GET", f"/permits/{created.json['id']}").json
    assert (shown["foreign_permit_date"], shown["reexport_country"], shown["reexport_permit_no"]) == (
        FOREIGN_DATE.isoformat(),
        "SG",
        "SG-9",
    )
    line = shown["lines"][0]
    assert (line["source_code"], line["purpose_code"], line["origin_country"], line["operation_no"]) == (
        "C",
        "Z",
        None,
        "A-KR-1",
    )
    refused = api("zoo", "POST", "/permits", body | {"import_country": "KR", "export_country": "KR"})
    assert refused.status_code == 422 and "export_country" in refused.json["errors"]
