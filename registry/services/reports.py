"""The CITES annual report, in the column layout the CITES Trade Database accepts for upload.

Rows come from what actually crossed the border (cleared endorsed quantities), not from what was
permitted (cites-standards.md §4.1). Each row's source, purpose and origin are its line's, and on
an export line whose animals customs named at the exit, the animals' own: an animal imported
earlier leaves with the source and origin it came with. ``check`` lists the rows the Trade
Database would reject (primary rules) or warn about (secondary rules), as described in §4.2;
``submission`` makes the upload file, and refuses while a row would be rejected.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from registry import codes, csv_cells, trade_pairs
from registry.commands import animals as animal_commands
from registry.commands.endorsements import Outcome
from registry.database import reader
from registry.i18n import N_, _
from registry.models import Animal, AnimalEvent, EndorsedLine, Endorsement, Permit, PermitLine, Species
from registry.permissions import Actor, require
from registry.services.errors import ValidationFailed

#: The upload template's columns, in order (cites-standards.md §4.2); the export report has no
#: ImportPermit column.
IMPORT_HEADER = [
    "Appendix",
    "SpeciesName",
    "TermCode",
    "Quantity",
    "UnitCode",
    "TradingPartner",
    "CountryOfOrigin",
    "ImportPermit",
    "ExportPermit",
    "OriginPermit",
    "IFSPermit",
    "PurposeCode",
    "SourceCode",
    "Year",
]
EXPORT_HEADER = [c for c in IMPORT_HEADER if c != "ImportPermit"]
DIRECTIONS = ("export", "import")
#: The Trade Database takes appendices in Roman numerals only (§2.6).
APPENDICES = {"1": "I", "2": "II", "3": "III"}
#: How a finding's level is named to people (the level itself is a code the API returns as is).
LEVELS = {"error": N_("error"), "warning": N_("warning")}
#: Source codes that say a specimen was taken from the wild, where the species lives (§4.2).
WILD = "W"


def header(direction: str) -> list[str]:
    return IMPORT_HEADER if direction == "import" else EXPORT_HEADER


@dataclass(frozen=True)
class _Specimens:
    """What crossed on one line with one source and one origin: a row of the report."""

    quantity: Decimal
    source: str
    origin: str | None
    origin_permit: str | None


def rows(actor: Actor, year: int, direction: str) -> list[dict]:
    """One row per permit line (per source and origin of its animals), with what crossed in *year*."""
    require(actor, "report.annual")
    if direction not in DIRECTIONS:
        raise ValidationFailed(_("unknown direction"), {"direction": _("import or export")})
    if not 1975 <= year <= 9999:
        raise ValidationFailed(_("bad year"), {"year": _("a year from 1975")})
    crossing = "entry" if direction == "import" else "exit"
    query = (
        select(PermitLine, Permit, Species, func.sum(EndorsedLine.quantity))
        .join(EndorsedLine, EndorsedLine.line_id == PermitLine.id)
        .join(Endorsement, Endorsement.id == EndorsedLine.endorsement_id)
        .join(Permit, Permit.id == PermitLine.permit_id)
        .join(Species, Species.id == PermitLine.species_id)
        .where(
            EndorsedLine.outcome == Outcome.CLEARED,
            Endorsement.direction == crossing,
            Endorsement.endorsed_on >= date(year, 1, 1),
            Endorsement.endorsed_on <= date(year, 12, 31),
        )
        .group_by(PermitLine.id, Permit.id, Species.id)
        .order_by(Species.scientific_name, Permit.number, PermitLine.line_no)
    )
    session = reader()
    crossed = session.execute(query).all()
    left = _animals_that_left(session, [line for line, *_rest in crossed], year) if direction == "export" else {}
    own = current_app.config["ISSUING_COUNTRY"]
    result = []
    for line, permit, species, quantity in crossed:
        exporter = permit.export_country if direction == "import" else own
        for part in _parts(line, permit, Decimal(quantity), left.get(line.id, [])):
            # The origin is reported where it is not the exporter (a re-export, an animal imported
            # earlier); the Trade Database warns on an origin equal to the exporter.
            origin = part.origin if part.origin != exporter else None
            row = {
                "Appendix": APPENDICES.get(line.appendix, line.appendix),
                "SpeciesName": species.scientific_name,
                "TermCode": line.term_code,
                "Quantity": _number(part.quantity),
                "UnitCode": line.unit_code or "",
                "TradingPartner": permit.export_country if direction == "import" else permit.import_country,
                "CountryOfOrigin": origin or "",
                "ImportPermit": (permit.number or "") if direction == "import" else "",
                # On an import, the exporting (or re-exporting) country's document; on an export or
                # re-export, ours. Korea's own import permit is never an origin permit.
                "ExportPermit": (permit.foreign_permit_no if direction == "import" else permit.number) or "",
                "OriginPermit": (part.origin_permit or "") if origin else "",
                "IFSPermit": "",
                "PurposeCode": line.purpose,
                "SourceCode": part.source,
                "Year": str(year),
                "_exporter": exporter,
                "_importer": own if direction == "import" else permit.import_country,
                # A split listing: the appendix of the population the specimen came from.
                "_current_appendix": species.appendix_for(part.origin or exporter),
                "_distribution": species.distribution or "",
            }
            result.append(row)
    return result


def _number(quantity: Decimal) -> str:
    """A quantity as the Trade Database reads it: plain digits, never an exponent (100, not 1E+2)."""
    return format(quantity.normalize(), "f")


def _parts(line: PermitLine, permit: Permit, quantity: Decimal, animals: list[_Specimens]) -> list[_Specimens]:
    """The line's quantity split by the source and origin of the animals that left on it; what no
    named animal accounts for has the line's own source and origin (box 10 and 12). Origin permits
    of one row are joined with ";", as the Trade Database stores several (cites-standards.md §1.5)."""
    own = _Specimens(quantity, line.source, line.origin, permit.origin_permit_no)
    if not animals:
        return [own]
    counts: Counter[tuple[str, str | None]] = Counter()
    permits: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for animal in animals[: int(quantity)]:
        key = (animal.source, animal.origin)
        counts[key] += 1
        if animal.origin_permit and animal.origin_permit not in permits[key]:
            permits[key].append(animal.origin_permit)
    parts = [
        _Specimens(Decimal(count), source, origin, ";".join(permits[(source, origin)]) or None)
        for (source, origin), count in counts.items()
    ]
    rest = quantity - sum(counts.values())
    return parts + [replace(own, quantity=rest)] if rest > 0 else parts


def _animals_that_left(session, lines: list[PermitLine], year: int) -> dict[int, list[_Specimens]]:
    """The animals exported in *year* on the permits of *lines*, by the line they left on.

    Customs names the line of each animal at the exit (the export event's ``line_no``); an export
    recorded without one is placed on the permit's only line of the animal's species, if there is
    one. An animal that was imported takes its origin permit from that import: the exporting
    country's permit when that country is the origin, else the import's box 12.
    """
    if not lines:
        return {}
    by_no = {(line.permit_id, line.line_no): line.id for line in lines}
    of_species: dict[tuple[int, int], list[int]] = defaultdict(list)
    for permit in {line.permit for line in lines}:
        for line in permit.lines:
            of_species[(permit.id, line.species_id)].append(line.id)
    reported = {line.id: line for line in lines}
    arrival = aliased(PermitLine)
    imported = aliased(Permit)
    query = (
        select(
            AnimalEvent.permit_id,
            AnimalEvent.details,
            Animal.species_id,
            Animal.source_code,
            Animal.origin_country,
            imported.export_country,
            imported.foreign_permit_no,
            imported.origin_permit_no,
        )
        .join(Animal, Animal.id == AnimalEvent.animal_id)
        .outerjoin(arrival, arrival.id == Animal.permit_line_id)
        .outerjoin(imported, imported.id == arrival.permit_id)
        .where(
            AnimalEvent.event == animal_commands.Export.EVENT,
            AnimalEvent.permit_id.in_({line.permit_id for line in lines}),
            AnimalEvent.occurred_on >= date(year, 1, 1),
            AnimalEvent.occurred_on <= date(year, 12, 31),
        )
        .order_by(AnimalEvent.id)
    )
    found: dict[int, list[_Specimens]] = defaultdict(list)
    for permit_id, details, species_id, source, origin, came_from, came_on, came_with in session.execute(query):
        line_no = (details or {}).get("line_no")
        candidates = of_species.get((permit_id, species_id), [])
        line_id = by_no.get((permit_id, line_no)) if line_no is not None else None
        if line_id is None and len(candidates) == 1:
            line_id = candidates[0]
        if line_id is None or line_id not in reported:
            continue
        line = reported[line_id]
        origin = origin or came_from
        if came_from is not None:
            origin_permit = came_on if origin == came_from else came_with
        else:
            origin_permit = line.permit.origin_permit_no if origin == line.origin else None
        found[line_id].append(_Specimens(Decimal(0), source, origin, origin_permit))
    return found


def as_csv(found: list[dict], direction: str) -> str:
    """The rows in the upload layout: the template's header, comma separated."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header(direction), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_cells.row(r) for r in found)
    return out.getvalue()


@dataclass(frozen=True)
class Finding:
    row: int
    level: str  # "error": the Trade Database rejects the row; "warning": it asks to confirm it
    message: str

    def __str__(self) -> str:
        return _("row %(row)s: %(level)s: %(message)s", row=self.row, level=_(LEVELS[self.level]), message=self.message)


def _found(findings: list[Finding], row: int, level: str, message: str) -> None:
    findings.append(Finding(row, level, message))


def check(found: list[dict]) -> list[Finding]:
    """The Trade Database's rules, applied before uploading (row numbers count the header as row 1)."""
    findings: list[Finding] = []
    for n, row in enumerate(found, start=2):
        err = functools.partial(_found, findings, n, "error")
        warn = functools.partial(_found, findings, n, "warning")
        _primary(row, err)
        _secondary(row, warn)
    return findings


def _primary(row: dict, err) -> None:
    """What makes the Trade Database reject the row: missing, malformed or unknown values."""
    for column in ("TradingPartner", "TermCode", "SpeciesName", "Appendix", "Quantity", "Year"):
        if not row.get(column):
            err(_("%(column)s is required", column=column))
    try:
        Decimal(row.get("Quantity") or "x")
    except ArithmeticError:
        err(_("Quantity must be a number"))
    if not re.fullmatch(r"\d{4}", row.get("Year") or ""):
        err(_("Year must have four digits"))
    if row.get("Appendix") and row["Appendix"] not in ("I", "II", "III", "N"):
        err(_("Appendix %(appendix)s is not I, II, III or N", appendix=row["Appendix"]))
    for column, table in (
        ("TermCode", codes.TERMS),
        ("PurposeCode", codes.PURPOSES),
        ("SourceCode", codes.SOURCES),
        ("UnitCode", codes.UNITS),
    ):
        if row.get(column) and row[column] not in table:
            err(_("%(column)s %(value)s is not a known code", column=column, value=row[column]))
    for column in ("TradingPartner", "CountryOfOrigin"):
        if row.get(column) and codes.country_name(row[column]) is None:
            err(_("%(column)s %(value)s is not a known country code", column=column, value=row[column]))


def _secondary(row: dict, warn) -> None:
    """What the Trade Database asks to confirm: the secondary rules of §4.2."""
    term, unit, purpose, source = (row.get(c) or "" for c in ("TermCode", "UnitCode", "PurposeCode", "SourceCode"))
    if row.get("_current_appendix") and row.get("Appendix") and row["_current_appendix"] != row["Appendix"]:
        warn(
            _(
                "%(species)s is now listed in Appendix %(current)s, the row says %(appendix)s",
                species=row["SpeciesName"],
                current=row["_current_appendix"],
                appendix=row["Appendix"],
            )
        )
    if term in codes.TERMS and unit in codes.UNITS and trade_pairs.unit_accepted(term, unit) is False:
        warn(_("unit %(unit)s is not one the Trade Database accepts for term %(term)s", unit=unit or "-", term=term))
    if term in codes.TERMS and purpose in codes.PURPOSES and trade_pairs.purpose_accepted(term, purpose) is False:
        warn(
            _("purpose %(purpose)s is not one the Trade Database accepts for term %(term)s", purpose=purpose, term=term)
        )
    # A wild specimen comes from where its species lives: the origin, or without one the exporter.
    # An unknown distribution (none recorded for the species) is not checked.
    where = row.get("CountryOfOrigin") or row.get("_exporter")
    distribution = (row.get("_distribution") or "").split()
    if source == WILD and distribution and where and where not in distribution:
        warn(
            _(
                "%(species)s taken from the wild in %(country)s, outside its distribution",
                species=row.get("SpeciesName"),
                country=where,
            )
        )
    if row.get("CountryOfOrigin") and row.get("CountryOfOrigin") == row.get("_exporter"):
        warn(_("the country of origin is the exporter"))
    if row.get("_exporter") and row.get("_exporter") == row.get("_importer"):
        warn(_("the exporter is the importer"))
    # The registry's species are animals (its species list holds Animalia only).
    if source == "A":
        warn(_("source A is for artificially propagated plants, not animals"))


@dataclass(frozen=True)
class Submission:
    """The file for the Trade Database's web upload, and the warnings it will ask to confirm."""

    filename: str
    text: str
    rows: int
    warnings: list[Finding]


def submission(actor: Actor, year: int, direction: str) -> Submission:
    """The upload file for *year* and *direction* (see ``upload``)."""
    return upload(rows(actor, year, direction), year, direction)


def upload(found: list[dict], year: int, direction: str) -> Submission:
    """The upload file of the rows *found*, named for the country, year and direction.

    :raises ValidationFailed: a row breaks a primary rule, so the Trade Database would reject the
        file: the errors, by row (``rows.<row>``, the header being row 1).
    """
    findings = check(found)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        problems: dict[str, list[str]] = defaultdict(list)
        for finding in errors:
            problems[f"rows.{finding.row}"].append(finding.message)
        raise ValidationFailed(
            _("the report has %(count)s error(s): correct them before making the upload file", count=len(errors)),
            {name: "; ".join(messages) for name, messages in problems.items()},
        )
    country = current_app.config["ISSUING_COUNTRY"]
    return Submission(
        filename=f"cites-annual-report-{country}-{year}-{direction}.csv",
        text=as_csv(found, direction),
        rows=len(found),
        warnings=[f for f in findings if f.level == "warning"],
    )
