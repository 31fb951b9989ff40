"""The CITES annual report: the exact upload layout, totals from what crossed, and the checks."""

import csv
import io
from datetime import date

from registry.cli import annual_report
from registry.services import reports
from tests import uses
from tests.helpers import animal_in, export_permit, issued_permit

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
    assert row == f"I,Psittacus erithacus,LIV,2,,ZA,,{permit.number},,,T,C,{YEAR}"


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
