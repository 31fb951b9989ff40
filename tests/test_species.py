"""Species reference data: the curated list and the official checklist importer."""

import csv
import io

import pytest

from registry.cli import import_species, load_species
from registry.models import AuditEntry, Species
from registry.services import reference
from registry.services.reference import CHECKLIST_REQUIRED, ImportRejected

HEADER = CHECKLIST_REQUIRED + ["FullAnnotationEnglish", "EnglishNames"]


def _checklist(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow(dict.fromkeys(HEADER, "") | row)
    return out.getvalue()


def _taxon(i: int, name: str, listing: str = "II", **extra) -> dict:
    return {
        "TaxonId": str(1000 + i),
        "Kingdom": "Animalia",
        "Class": "Reptilia",
        "Order": "Squamata",
        "Family": "Chamaeleonidae",
        "FullName": name,
        "AuthorYear": "(Gray, 1831)",
        "RankName": "SPECIES",
        "CurrentListing": listing,
        "EnglishNames": f"{name} chameleon, other name",
        **extra,
    }


def test_curated_list_is_large_and_loads_idempotently(session, operator):
    first = reference.load_curated_species(operator)
    assert first["created"] >= 200 and first["updated"] == 0
    rows = session.query(Species).all()
    assert {"I", "II", "III"} >= {s.appendix for s in rows}
    assert sum(1 for s in rows if s.name_ko) >= 100
    assert {"Psittacus erithacus", "Python regius", "Testudo hermanni"} <= {s.scientific_name for s in rows}
    entries = session.query(AuditEntry).count()
    assert reference.load_curated_species(operator) == {"created": 0, "updated": 0, "unchanged": first["created"]}
    assert session.query(AuditEntry).count() == entries


def test_checklist_import_creates_updates_and_skips_what_is_not_ours(session, operator):
    rows = reference.read_checklist(
        io.StringIO(
            _checklist(
                [
                    _taxon(1, "Furcifer pardalis"),
                    _taxon(2, "Brookesia perarmata", "I"),
                    _taxon(3, "Chamaeleo chamaeleon", "II/III"),
                    _taxon(4, "Aloe vera", Kingdom="Plantae"),
                    _taxon(5, "Chamaeleonidae", RankName="FAMILY"),
                    _taxon(6, "Delisted species", "NC"),
                ]
            )
        )
    )
    assert reference.import_checklist(operator, rows) == {"created": 3, "updated": 0, "unchanged": 0}
    split = session.query(Species).filter_by(scientific_name="Chamaeleo chamaeleon").one()
    assert split.appendix == "II" and split.annotation.startswith("Split listing II/III")
    assert split.name_en == "Chamaeleo chamaeleon chameleon" and split.cites_taxon_id == 1003
    again = reference.read_checklist(io.StringIO(_checklist([_taxon(1, "Furcifer pardalis", "I")])))
    assert reference.import_checklist(operator, again) == {"created": 0, "updated": 1, "unchanged": 0}
    change = session.query(AuditEntry).filter_by(action="species.update").one()
    assert (change.before, change.after) == ({"appendix": "II"}, {"appendix": "I"})


def test_one_bad_row_rejects_the_whole_file(session, operator):
    rows = reference.read_checklist(
        io.StringIO(
            _checklist(
                [
                    _taxon(1, "Furcifer pardalis"),
                    _taxon(2, "Bad listing", "IV"),
                    _taxon(3, "", "II"),
                    _taxon(4, "Furcifer pardalis"),
                    _taxon(5, "No family", Family=""),
                    _taxon(6, "Bad id", TaxonId="x"),
                ]
            )
        )
    )
    with pytest.raises(ImportRejected) as exc:
        reference.import_checklist(operator, rows)
    assert [str(e) for e in exc.value.errors] == [
        "line 3: Bad listing: CurrentListing 'IV' is not a CITES appendix",
        "line 4: FullName is empty",
        "line 5: Furcifer pardalis repeats line 2",
        "line 6: No family: Family is empty",
        "line 7: Bad id: TaxonId 'x' is not a number",
    ]
    assert session.query(Species).count() == 0


def test_cli_import_reports_rows_and_exits_nonzero(app, session, tmp_path):
    good = tmp_path / "index.csv"
    good.write_text(_checklist([_taxon(1, "Furcifer pardalis"), _taxon(2, "Furcifer oustaleti")]), encoding="utf-8")
    result = app.test_cli_runner().invoke(import_species, [str(good)])
    assert result.exit_code == 0 and "2 created" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("TaxonId,FullName\n1,x\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(import_species, [str(bad)])
    assert result.exit_code == 2 and "missing column(s): Kingdom" in result.output


def test_cli_load_is_idempotent(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(load_species).exit_code == 0
    result = runner.invoke(load_species)
    assert result.exit_code == 0 and "0 created, 0 updated" in result.output
