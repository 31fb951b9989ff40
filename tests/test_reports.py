"""The CITES annual report: the exact upload layout, totals from what crossed, and the checks."""

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from registry import codes
from registry.cli import annual_report
from registry.extensions import db
from registry.models import Animal, Party, PermitLine, Species
from registry.services import reports
from registry.services.context import write_transaction
from registry.services.errors import ValidationFailed
from tests import uses
from tests.helpers import animal_in, endorse_entry, export_permit, issued_permit, payload

YEAR = date.today().year


def _endorse(world, permit, quantity, outcome="cleared", direction="entry", **extra):
    line = {"line_no": 1, "quantity": str(quantity), "outcome": outcome, **extra}
    return uses.endorse(
        world.actor("customs"),
        permit.id,
        {
            "direction": direction,
            "port": "ICN",
            "transport_doc": "AWB 1",
            "lines": [line],
            **({"seizure_facility_id": world.rescue} if outcome == "seized" else {}),
        },
    )


def test_import_report_layout_and_totals(world):
    permit = issued_permit(world)
    _endorse(world, permit, 1)
    _endorse(world, permit, 1)
    _endorse(world, permit, 1, outcome="refused")  # refused: did not cross, not counted
    found = reports.rows(world.actor("auditor"), YEAR, "import")
    text = reports.as_csv(found, "import")
    assert text.splitlines()[0] == (
        "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,"
        "ImportPermit,ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [
        {
            "Appendix": "I",
            "SpeciesName": "Psittacus erithacus",
            "TermCode": "LIV",
            "Quantity": "2",
            "UnitCode": "",
            "TradingPartner": "ZA",
            "CountryOfOrigin": "",
            "ImportPermit": permit.number,
            "ExportPermit": permit.foreign_permit_no,
            "OriginPermit": "",
            "IFSPermit": "",
            "PurposeCode": "Z",
            "SourceCode": "C",
            "Year": str(YEAR),
        }
    ]
    assert reports.check(found) == []
    assert reports.rows(world.actor("auditor"), YEAR - 1, "import") == []


def test_export_report_counts_exits(world):
    permit = export_permit(world)
    birds = [animal_in(world, "in_captivity").id for _ in range(2)]
    _endorse(world, permit, 2, direction="exit", animal_ids=birds)
    text = reports.as_csv(reports.rows(world.actor("officer"), YEAR, "export"), "export")
    header, row = text.splitlines()
    assert header == (
        "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,"
        "ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year"
    )
    # The birds came from South Africa (each on its own import): they leave with that origin.
    origin_permits = ";".join(db.session.get(Animal, b).permit_line.permit.foreign_permit_no for b in birds)
    assert row == f"I,Psittacus erithacus,LIV,2,,ZA,ZA,{permit.number},{origin_permits},,T,C,{YEAR}"


def test_checks_name_rejected_and_doubtful_rows(world):
    good = {
        "Appendix": "II",
        "SpeciesName": "Python regius",
        "TermCode": "LIV",
        "Quantity": "3",
        "UnitCode": "",
        "TradingPartner": "GH",
        "CountryOfOrigin": "GH",
        "PurposeCode": "T",
        "SourceCode": "C",
        "Year": "2026",
        "_exporter": "GH",
        "_importer": "KR",
        "_current_appendix": "II",
    }
    bad = dict(
        good,
        Appendix="2",
        Quantity="three",
        Year="26",
        TermCode="ZZZ",
        TradingPartner="",
        SourceCode="A",
        UnitCode="MTR",
        _current_appendix="I",
    )
    findings = [str(f) for f in reports.check([good, bad])]
    assert "row 2: warning: the country of origin is the exporter" in findings
    for expected in (
        "row 3: error: TradingPartner is required",
        "row 3: error: Quantity must be a number",
        "row 3: error: Year must have four digits",
        "row 3: error: Appendix 2 is not I, II, III or N",
        "row 3: error: TermCode ZZZ is not a known code",
        "row 3: warning: source A is for artificially propagated plants, not animals",
        "row 3: warning: Python regius is now listed in Appendix I, the row says 2",
    ):
        assert expected in findings, expected


def test_cli_and_permissions(app, world, tmp_path):
    from registry.services.errors import Forbidden

    _endorse(world, issued_permit(world), 3)
    out = tmp_path / "import.csv"
    result = app.test_cli_runner().invoke(annual_report, [str(YEAR), "--direction", "import", "--out", str(out)])
    assert result.exit_code == 0 and "1 rows, 0 errors" in result.output
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("I,Psittacus erithacus,LIV,3,")
    for who in ("zoo", "customs"):
        try:
            reports.rows(world.actor(who), YEAR, "import")
        except Forbidden:
            continue
        raise AssertionError(f"{who} may not build the report")


def test_report_pages(client, login, world, api_tokens):
    _endorse(world, issued_permit(world), 1)
    login(world.users["auditor"])
    page = client.get("/reports/annual", query_string={"year": YEAR, "direction": "import"}).get_data(as_text=True)
    assert "Psittacus erithacus" in page and "Download the upload CSV" in page
    download = client.get("/reports/annual.csv", query_string={"year": YEAR, "direction": "import"})
    assert download.mimetype == "text/csv" and download.data.startswith(b"Appendix,SpeciesName")
    api = client.get(
        f"/api/v1/reports/annual/{YEAR}?direction=import&format=json",
        headers={"Authorization": f"Bearer {api_tokens['auditor']}"},
    ).json
    assert api["rows"][0]["Quantity"] == "1" and api["findings"] == []
    upload = client.get(
        f"/api/v1/reports/annual/{YEAR}?direction=import",
        headers={"Authorization": f"Bearer {api_tokens['auditor']}"},
    )
    assert upload.data == download.data
    assert f"cites-annual-report-KR-{YEAR}-import.csv" in upload.headers["Content-Disposition"]
    assert download.headers["Content-Disposition"] == upload.headers["Content-Disposition"]


# ---------------------------------------------------------------- issue #14: the report's content

#: The upload template's columns as cites-standards.md §4.2 documents them (UNEP-WCMC's importer
#: template; the exporter's is the same without ImportPermit).
TEMPLATE = (
    "Appendix,SpeciesName,TermCode,Quantity,UnitCode,TradingPartner,CountryOfOrigin,"
    "ImportPermit,ExportPermit,OriginPermit,IFSPermit,PurposeCode,SourceCode,Year"
)


def _set(obj, **values):
    """Values the application forms do not take yet (box 12's permit, per-line codes), set as stored."""
    with write_transaction() as session:
        obj = session.merge(obj)
        for name, value in values.items():
            setattr(obj, name, value)
    return obj


def _issued(world, application):
    permit = uses.create_application(world.actor("officer"), application)
    uses.permit_event(world.actor("officer"), permit.id, "submit")
    uses.permit_event(world.actor("officer2"), permit.id, "approve")
    return uses.permit_event(world.actor("officer3"), permit.id, "issue")


def _outgoing(world, doc_type="export", lines=None, **fields):
    """An issued export or re-export of python skins to South Africa."""
    data = {
        "doc_type": doc_type,
        "applicant_party_id": world.zoo,
        "importer_party_id": world.exporter,
        "exporter_party_id": world.zoo,
        "import_country": "ZA",
        "export_country": "KR",
        "purpose_code": "T",
        "source_code": "C",
        "lines": lines or [{"species_id": world.python, "term_code": "SKI", "quantity": "100"}],
        **fields,
    }
    return _issued(world, data)


def _export_rows(world):
    return reports.rows(world.actor("officer"), YEAR, "export")


def test_reexport_reports_the_origin_permit_of_box_12_not_the_import_permit(world):
    # foreign_permit_no on a re-export is South Africa's import permit: never an origin permit.
    permit = _outgoing(
        world,
        "reexport",
        foreign_permit_no="ZA-IMP-7",
        origin_country="ID",
        origin_permit_no="ID-EXP-9",
        origin_permit_date="2025-11-03",
    )
    _endorse(world, permit, 100, direction="exit")
    [row] = _export_rows(world)
    assert (row["CountryOfOrigin"], row["OriginPermit"], row["ExportPermit"]) == ("ID", "ID-EXP-9", permit.number)
    assert "ZA-IMP-7" not in row.values()


def test_reexport_line_with_its_own_origin(world):
    permit = _outgoing(
        world,
        "reexport",
        foreign_permit_no="ZA-IMP-8",
        origin_country="ID",
        origin_permit_no="ID-EXP-8",
        origin_permit_date="2025-11-03",
    )
    _set(permit.lines[0], origin_country="MY")
    _endorse(world, permit, 40, direction="exit")
    [row] = _export_rows(world)
    assert row["CountryOfOrigin"] == "MY" and row["Quantity"] == "40"


def test_source_and_purpose_are_the_lines_not_the_applications(world):
    permit = issued_permit(world)
    _set(permit.lines[0], source_code="F", purpose_code="S")
    _endorse(world, permit, 1)
    [row] = reports.rows(world.actor("auditor"), YEAR, "import")
    assert (row["SourceCode"], row["PurposeCode"]) == ("F", "S")


def _ghanaian_exporter() -> int:
    with write_transaction() as session:
        party = Party(kind="organisation", name="Accra Aviaries", country="GH")
        session.add(party)
        session.flush()
        return party.id


def _imported_bird(world, **application):
    """A parrot imported on its own permit, now kept at the zoo."""
    if application.get("export_country") == "GH":
        application["exporter_party_id"] = _ghanaian_exporter()
    permit = issued_permit(world, **application)
    endorse_entry(world, permit, 1)
    bird = db.session.scalars(
        select(Animal).join(PermitLine, PermitLine.id == Animal.permit_line_id).where(PermitLine.permit_id == permit.id)
    ).one()
    for event in ("register",):
        uses.fire(world.operator, bird.id, event, payload(world, event))
    return db.session.get(Animal, bird.id), permit


def test_an_imported_animal_leaves_with_its_own_origin_and_source(world):
    wild, from_ghana = _imported_bird(world, export_country="GH", source_code="W", foreign_permit_no="GH-EXP-1")
    bred, from_za = _imported_bird(world, foreign_permit_no="ZA-EXP-2")
    assert (wild.source_code, wild.origin_country, bred.source_code, bred.origin_country) == ("W", "GH", "C", "ZA")
    permit = export_permit(world)  # the application says source C, and no origin
    _endorse(world, permit, 2, direction="exit", animal_ids=[wild.id, bred.id])
    found = {(r["SourceCode"], r["CountryOfOrigin"], r["OriginPermit"], r["Quantity"]) for r in _export_rows(world)}
    assert found == {("W", "GH", "GH-EXP-1", "1"), ("C", "ZA", "ZA-EXP-2", "1")}


def test_each_animal_is_reported_on_the_line_it_left_on(world):
    wild, _ = _imported_bird(world, export_country="GH", source_code="W", foreign_permit_no="GH-EXP-4")
    bred, _ = _imported_bird(world, foreign_permit_no="ZA-EXP-5")
    parrot = {"species_id": world.parrot, "term_code": "LIV", "quantity": "1"}
    permit = _outgoing(world, lines=[parrot, parrot], foreign_permit_no="ZA-IMP-3", foreign_permit_date="2026-10-01")
    _set(permit.lines[1], purpose_code="Z")
    uses.endorse(
        world.actor("customs"),
        permit.id,
        {
            "direction": "exit",
            "port": "ICN",
            "transport_doc": "AWB 3",
            "lines": [
                {"line_no": 1, "quantity": "1", "outcome": "cleared", "animal_ids": [bred.id]},
                {"line_no": 2, "quantity": "1", "outcome": "cleared", "animal_ids": [wild.id]},
            ],
        },
    )
    found = {(r["PurposeCode"], r["SourceCode"], r["CountryOfOrigin"]) for r in _export_rows(world)}
    assert found == {("T", "C", "ZA"), ("Z", "W", "GH")}


def test_an_export_line_without_animals_keeps_the_lines_source_and_origin(world):
    permit = _outgoing(world)
    _set(permit.lines[0], source_code="W", origin_country="KR")
    _endorse(world, permit, 100, direction="exit")
    [row] = _export_rows(world)
    # Korea's own wild specimen: the origin is the exporter, so it is left blank (§4.2 warns on it).
    assert (row["SourceCode"], row["CountryOfOrigin"], row["Quantity"]) == ("W", "", "100")


def test_every_term_and_unit_of_the_guidelines_can_be_applied_for_and_reported(world):
    lines = [
        {"species_id": world.python, "term_code": term, "quantity": "2", "unit_code": unit}
        for term, unit in (("GAL", "GRM"), ("MUS", "KGM"), ("EXT", "MLT"), ("WPR", "MTQ"), ("KEY", "NAR"))
    ]
    permit = _outgoing(world, lines=lines)
    uses.endorse(
        world.actor("customs"),
        permit.id,
        {
            "direction": "exit",
            "port": "ICN",
            "transport_doc": "AWB 9",
            "lines": [{"line_no": n, "quantity": "2", "outcome": "cleared"} for n in range(1, 6)],
        },
    )
    found = _export_rows(world)
    assert {(r["TermCode"], r["UnitCode"]) for r in found} == {
        ("GAL", "GRM"),
        ("MUS", "KGM"),
        ("EXT", "MLT"),
        ("WPR", "MTQ"),
        ("KEY", "NAR"),
    }
    assert [f for f in reports.check(found) if f.level == "error"] == []


def test_units_old_and_new_are_one_unit():
    assert [codes.canonical_unit(u) for u in ("KIL", "CUM", "SQM", "CCM", "", None, "NAR", "kgm")] == [
        "KGM",
        "MTQ",
        "MTK",
        "CMQ",
        "NAR",
        "NAR",
        "NAR",
        "KGM",
    ]
    assert all(codes.UNITS[old] == codes.UNITS[new] for old, new in codes.UNIT_ALIASES.items())


def _row(**values):
    row = {
        "Appendix": "II",
        "SpeciesName": "Python regius",
        "TermCode": "SKI",
        "Quantity": "3",
        "UnitCode": "",
        "TradingPartner": "ZA",
        "CountryOfOrigin": "",
        "PurposeCode": "T",
        "SourceCode": "C",
        "Year": "2026",
        "_exporter": "KR",
        "_importer": "ZA",
        "_current_appendix": "II",
        "_distribution": "",
    }
    return row | values


def _warnings(row):
    return [f.message for f in reports.check([row]) if f.level == "warning"]


def test_term_unit_pairs_warn_in_old_and_new_codes():
    assert _warnings(_row()) == []
    assert _warnings(_row(UnitCode="KIL")) == [] and _warnings(_row(UnitCode="KGM")) == []
    assert _warnings(_row(UnitCode="SQM")) == [] and _warnings(_row(UnitCode="MTK")) == []
    assert _warnings(_row(UnitCode="LTR")) == ["unit LTR is not one the Trade Database accepts for term SKI"]
    assert _warnings(_row(TermCode="LIV", UnitCode="MTR")) == [
        "unit MTR is not one the Trade Database accepts for term LIV"
    ]


def test_term_purpose_pairs_warn():
    assert _warnings(_row(TermCode="LIV", PurposeCode="Z")) == []
    assert _warnings(_row(TermCode="LIV", PurposeCode="H")) == [
        "purpose H is not one the Trade Database accepts for term LIV"
    ]


def test_wild_specimens_come_from_the_species_distribution():
    wild = _row(SourceCode="W", CountryOfOrigin="GH", _distribution="GH CI")
    assert _warnings(wild) == []
    assert _warnings(wild | {"CountryOfOrigin": "MY"}) == [
        "Python regius taken from the wild in MY, outside its distribution"
    ]
    # Without an origin, the exporter is where it was taken.
    assert _warnings(wild | {"CountryOfOrigin": ""}) == [
        "Python regius taken from the wild in KR, outside its distribution"
    ]
    # Bred in captivity, or a species whose distribution the registry does not know: nothing to check.
    assert _warnings(wild | {"CountryOfOrigin": "MY", "SourceCode": "C"}) == []
    assert _warnings(wild | {"CountryOfOrigin": "MY", "_distribution": ""}) == []


def test_distribution_is_the_species_on_record(world):
    permit = issued_permit(world, export_country="GH", exporter_party_id=_ghanaian_exporter(), source_code="W")
    _set(db.session.get(Species, world.parrot), distribution="CI LR")
    _endorse(world, permit, 1)
    found = reports.rows(world.actor("auditor"), YEAR, "import")
    assert "Psittacus erithacus taken from the wild in GH, outside its distribution" in _warnings(found[0])
    _set(db.session.get(Species, world.parrot), distribution="CI GH LR")
    assert _warnings(reports.rows(world.actor("auditor"), YEAR, "import")[0]) == []


def test_appendix_is_checked_against_the_population_listed(world):
    from registry.models import SpeciesPopulation

    permit = issued_permit(world, export_country="GH", exporter_party_id=_ghanaian_exporter(), purpose_code="Z")
    _set(permit.lines[0], appendix="II")
    with write_transaction() as session:
        session.add(SpeciesPopulation(species_id=world.parrot, countries="GH CI", appendix="II"))
    _endorse(world, permit, 1)
    [row] = reports.rows(world.actor("auditor"), YEAR, "import")
    assert row["Appendix"] == "II" and _warnings(row) == []


def test_exporter_origin_importer_and_kingdom_warn():
    assert _warnings(_row(CountryOfOrigin="KR")) == ["the country of origin is the exporter"]
    assert _warnings(_row(_importer="KR", TradingPartner="KR")) == ["the exporter is the importer"]
    assert _warnings(_row(SourceCode="A")) == ["source A is for artificially propagated plants, not animals"]


# ---------------------------------------------------------------- issue #14: the upload file


def test_upload_file_has_the_template_columns_and_reads_back(app, world):
    permit = _outgoing(
        world,
        "reexport",
        foreign_permit_no="ZA-IMP-9",
        origin_country="ID",
        origin_permit_no="ID-EXP-3",
        origin_permit_date="2025-11-03",
    )
    _endorse(world, permit, 100, direction="exit")
    _endorse(world, issued_permit(world), 1)
    for direction in ("import", "export"):
        made = reports.submission(world.actor("auditor"), YEAR, direction)
        expected = TEMPLATE.split(",") if direction == "import" else TEMPLATE.replace("ImportPermit,", "").split(",")
        reader = csv.reader(io.StringIO(made.text))
        assert next(reader) == expected
        assert made.filename == f"cites-annual-report-{app.config['ISSUING_COUNTRY']}-{YEAR}-{direction}.csv"
        found = reports.rows(world.actor("auditor"), YEAR, direction)
        assert list(csv.DictReader(io.StringIO(made.text))) == [{c: r[c] for c in expected} for r in found]
    export = reports.submission(world.actor("auditor"), YEAR, "export")
    [row] = csv.DictReader(io.StringIO(export.text))
    assert (row["Appendix"], row["Quantity"], row["OriginPermit"]) == ("II", "100", "ID-EXP-3")  # not 1E+2


def _broken_export(world):
    permit = _outgoing(world)
    _endorse(world, permit, 5, direction="exit")
    _set(permit.lines[0], term_code="ZZZ")  # e.g. a code withdrawn since: the Trade Database rejects it
    return permit


def test_upload_file_refused_while_a_row_breaks_a_primary_rule(world):
    _broken_export(world)
    with pytest.raises(ValidationFailed) as refused:
        reports.submission(world.actor("officer"), YEAR, "export")
    assert refused.value.fields == {"rows.2": "TermCode ZZZ is not a known code"}


def test_cli_writes_the_named_upload_file_or_lists_the_errors(app, world, tmp_path):
    _endorse(world, issued_permit(world), 2)
    runner = app.test_cli_runner()
    result = runner.invoke(annual_report, [str(YEAR), "--direction", "import", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [written] = tmp_path.iterdir()
    assert written.name == f"cites-annual-report-KR-{YEAR}-import.csv"
    assert written.read_bytes().startswith(TEMPLATE.encode() + b"\r\n")
    _broken_export(world)
    out = tmp_path / "export.csv"
    result = runner.invoke(annual_report, [str(YEAR), "--out", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert "row 2: error: TermCode ZZZ is not a known code" in result.output


def test_web_and_api_refuse_the_upload_file_with_errors(client, login, world, api_tokens):
    _broken_export(world)
    login(world.users["auditor"])
    query = {"year": YEAR, "direction": "export"}
    refused = client.get("/reports/annual.csv", query_string=query)
    assert refused.status_code == 302 and "/reports/annual" in refused.location
    page = client.get(refused.location).get_data(as_text=True)
    assert "TermCode ZZZ is not a known code" in page
    api = client.get(
        f"/api/v1/reports/annual/{YEAR}?direction=export&format=csv",
        headers={"Authorization": f"Bearer {api_tokens['auditor']}"},
    )
    assert api.status_code == 422 and api.json["errors"] == {"rows.2": "TermCode ZZZ is not a known code"}
