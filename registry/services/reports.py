"""The CITES annual report, in the column layout the CITES Trade Database accepts for upload.

Rows come from what actually crossed the border (cleared endorsed quantities), not from what was
permitted (cites-standards.md §4.1). ``check`` lists the rows the Trade Database would reject
(primary rules) or warn about (secondary rules), as described in §4.2.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from registry import codes, csv_cells
from registry.commands.endorsements import Outcome
from registry.database import reader
from registry.i18n import N_, _
from registry.models import EndorsedLine, Endorsement, Permit, PermitLine, Species
from registry.permissions import Actor, require
from registry.services.errors import ValidationFailed

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
#: Units the Trade Database accepts for live animals besides a plain count (§2.3 c).
LIVE_UNITS = {"", "NAR", "MYG", "MGM", "GRM", "KIL", "KGM"}
#: How a finding's level is named to people (the level itself is a code the API returns as is).
LEVELS = {"error": N_("error"), "warning": N_("warning")}


def header(direction: str) -> list[str]:
    return IMPORT_HEADER if direction == "import" else EXPORT_HEADER


def rows(actor: Actor, year: int, direction: str) -> list[dict]:
    """One row per permit line, with the quantity that crossed in *year*."""
    require(actor, "report.annual")
    if direction not in ("import", "export"):
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
    own = current_app.config["ISSUING_COUNTRY"]
    result = []
    for line, permit, species, quantity in reader().execute(query):
        row = {
            "Appendix": line.appendix,
            "SpeciesName": species.scientific_name,
            "TermCode": line.term_code,
            "Quantity": format(Decimal(quantity).normalize(), "f"),
            "UnitCode": line.unit_code or "",
            "TradingPartner": permit.export_country if direction == "import" else permit.import_country,
            "CountryOfOrigin": permit.origin_country or "",
            "ImportPermit": "",
            "ExportPermit": "",
            "OriginPermit": "",
            "IFSPermit": "",
            "PurposeCode": permit.purpose_code,
            "SourceCode": permit.source_code,
            "Year": str(year),
        }
        if direction == "import":
            row["ImportPermit"], row["ExportPermit"] = permit.number or "", permit.foreign_permit_no or ""
        elif permit.doc_type == "reexport":
            row["ExportPermit"], row["OriginPermit"] = permit.number or "", permit.foreign_permit_no or ""
        else:
            row["ExportPermit"] = permit.number or ""
        row["_exporter"] = permit.export_country if direction == "import" else own
        row["_importer"] = own if direction == "import" else permit.import_country
        row["_current_appendix"] = species.appendix
        result.append(row)
    return result


def as_csv(found: list[dict], direction: str) -> str:
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
        if row.get("_current_appendix") and row.get("Appendix") and row["_current_appendix"] != row["Appendix"]:
            warn(
                _(
                    "%(species)s is now listed in Appendix %(current)s, the row says %(appendix)s",
                    species=row["SpeciesName"],
                    current=row["_current_appendix"],
                    appendix=row["Appendix"],
                )
            )
        if row.get("TermCode") == "LIV" and row.get("UnitCode", "") not in LIVE_UNITS:
            warn(_("unit %(unit)s is unusual for live specimens", unit=row["UnitCode"]))
        if row.get("CountryOfOrigin") and row.get("CountryOfOrigin") == row.get("_exporter"):
            warn(_("the country of origin is the exporter"))
        if row.get("_exporter") and row.get("_exporter") == row.get("_importer"):
            warn(_("the exporter is the importer"))
        if row.get("SourceCode") == "A":
            warn(_("source A is for artificially propagated plants, not animals"))
    return findings
