"""Reference data: species (curated list and the official checklist), national categories, parties."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from importlib import resources

from sqlalchemy import select

from registry import codes
from registry.i18n import _
from registry.models import APPENDICES, PARTY_KINDS, NationalCategory, Party, Species, SpeciesPopulation
from registry.permissions import Actor, require
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.errors import Conflict, ValidationFailed

NATIONAL_CATEGORIES = [
    ("CITES", "Internationally endangered species", "국제적 멸종위기종"),
    ("ENDANGERED_I", "Endangered wildlife, class I", "멸종위기 야생생물 I급"),
    ("ENDANGERED_II", "Endangered wildlife, class II", "멸종위기 야생생물 II급"),
    ("DESIGNATED", "Designated-management wildlife", "지정관리 야생동물"),
    ("DANGEROUS", "Species needing a breeding permit (Decree table 1-2)", "인공증식 허가 대상종"),
]

CURATED_COLUMNS = [
    "scientific_name",
    "author",
    "class",
    "order",
    "family",
    "appendix",
    "annotation",
    "name_en",
    "name_ko",
    # Optional (a list without them loads as before): the first listing, the Appendix III listing
    # States, the range States, and the populations of a split listing ("BW NA ZA ZW:II; IN:I").
    "listed_on",
    "listing_countries",
    "distribution",
    "populations",
]
CHECKLIST_REQUIRED = [
    "TaxonId",
    "Kingdom",
    "Class",
    "Order",
    "Family",
    "FullName",
    "AuthorYear",
    "RankName",
    "CurrentListing",
]


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRejected(ValidationFailed):
    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} row(s) rejected; nothing was imported")
        self.errors = errors


def ensure_national_categories(actor: Actor) -> int:
    """Create the national categories that are missing; idempotent."""
    require(actor, "species.manage")
    created = 0
    with write_transaction() as session:
        for code, en, ko in NATIONAL_CATEGORIES:
            if session.get(NationalCategory, code) is None:
                session.add(NationalCategory(code=code, name_en=en, name_ko=ko))
                session.flush()
                audit.record(
                    actor,
                    "national_category.create",
                    "national_category",
                    code,
                    None,
                    {"code": code, "name_en": en, "name_ko": ko},
                )
                created += 1
    return created


def _upsert_species(actor: Actor, session, values: dict) -> str:
    """Create or update one species by scientific name; returns 'created', 'updated' or 'unchanged'."""
    existing = session.scalar(select(Species).where(Species.scientific_name == values["scientific_name"]))
    values = dict(values)
    populations = values.pop("populations", None)
    if existing is None:
        sp = Species(**values)
        set_populations(sp, populations or [])
        session.add(sp)
        session.flush()
        audit.record(actor, "species.create", "species", sp.id, None, sp.as_audit())
        return "created"
    before = existing.as_audit()
    for key, value in values.items():
        setattr(existing, key, value)
    if populations is not None:  # the checklist import says nothing of populations: kept
        set_populations(existing, populations)
    if existing.as_audit() == before:
        return "unchanged"
    session.flush()
    audit.record(actor, "species.update", "species", existing.id, before, existing.as_audit())
    return "updated"


def _validated(rows: Iterable[tuple[int, dict]], convert: Callable[[dict], dict | None]) -> list[dict]:
    """Convert every row first; any error rejects the whole file, so nothing is half-imported."""
    good: list[dict] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    taxa: dict[object, int] = {}
    for line, row in rows:
        try:
            values = convert(row)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if values is None:
            continue
        name = values["scientific_name"]
        if name in seen:
            errors.append(RowError(line, f"{name} repeats line {seen[name]}"))
            continue
        seen[name] = line
        taxon = values.get("cites_taxon_id")
        if taxon is not None:
            if taxon in taxa:
                errors.append(RowError(line, f"{name}: TaxonId {taxon} repeats line {taxa[taxon]}"))
                continue
            taxa[taxon] = line
        good.append(values)
    if errors:
        raise ImportRejected(errors)
    return good


def _apply(actor: Actor, rows: list[dict], progress: Callable[[int], None] | None) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with write_transaction() as session:
        for values in rows:
            counts[_upsert_species(actor, session, values)] += 1
            if progress:
                progress(1)
    return counts


def _curated_row(row: dict) -> dict:
    name = (row.get("scientific_name") or "").strip()
    if not name:
        raise ValueError("scientific_name is empty")
    appendix = (row.get("appendix") or "").strip().upper()
    if appendix not in APPENDICES:
        raise ValueError(f"{name}: appendix {appendix!r} is not I, II or III")
    return {
        "scientific_name": name,
        "author": row.get("author") or None,
        "taxon_class": row["class"].strip(),
        "taxon_order": row["order"].strip(),
        "family": row["family"].strip(),
        "appendix": appendix,
        "annotation": row.get("annotation") or None,
        "name_en": row.get("name_en") or None,
        "name_ko": row.get("name_ko") or None,
        "national_category_code": "CITES",
        "listed_on": read_day(name, row.get("listed_on")),
        "listing_countries": read_countries(name, row.get("listing_countries")),
        "distribution": read_countries(name, row.get("distribution")),
        "populations": parse_populations(name, row.get("populations")),
    }


def read_day(name: str, text: str | None) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date as YYYY-MM-DD") from None


def read_countries(name: str, text: str | None) -> str | None:
    """Space-separated ISO codes, each checked; None when empty."""
    found = (text or "").upper().split()
    for code in found:
        if codes.country_name(code) is None:
            raise ValueError(f"{name}: {code!r} is not an ISO 3166-1 alpha-2 country code")
    return " ".join(found) or None


def parse_populations(name: str, text: str | None) -> list[tuple[str, str]]:
    """A split listing written "BW NA ZA ZW:II; IN:I" as [(countries, appendix)]."""
    populations = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        countries, _sep, appendix = part.rpartition(":")
        appendix = appendix.strip().upper()
        if appendix not in APPENDICES or not countries.strip():
            raise ValueError(f"{name}: population {part.strip()!r} is not written as 'BW NA ZA ZW:II'")
        populations.append((read_countries(name, countries) or "", appendix))
    return populations


def format_populations(species: Species) -> str:
    return "; ".join(f"{p.countries}:{p.appendix}" for p in species.populations)


def set_populations(species: Species, populations: list[tuple[str, str]]) -> None:
    """Replace *species*' split listing, leaving the rows alone when nothing changed."""
    if [(p.countries, p.appendix) for p in species.populations] != populations:
        species.populations = [SpeciesPopulation(countries=c, appendix=a) for c, a in populations]


def load_curated_species(actor: Actor, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Load the species list shipped with the registry; running it again changes nothing."""
    require(actor, "species.manage")
    text = resources.files("registry").joinpath("data/species.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    rows = _validated(((i, r) for i, r in enumerate(reader, start=2)), _curated_row)
    with write_transaction():  # categories and species together, or nothing
        ensure_national_categories(actor)
        return _apply(actor, rows, progress)


_LISTINGS = {"I": "I", "II": "II", "III": "III", "I/II": "I", "I/III": "I", "II/III": "II", "I/II/III": "I"}


def _checklist_row(row: dict) -> dict | None:
    if (row.get("Kingdom") or "").strip() != "Animalia":
        return None  # the registry follows animals; plants are out of scope
    if (row.get("RankName") or "").strip().upper() not in ("SPECIES", "SUBSPECIES"):
        return None
    name = (row.get("FullName") or "").strip()
    if not name:
        raise ValueError("FullName is empty")
    listing = (row.get("CurrentListing") or "").strip().upper()
    if listing == "NC":
        return None
    if listing not in _LISTINGS:
        raise ValueError(f"{name}: CurrentListing {listing!r} is not a CITES appendix")
    try:
        taxon_id = int(row["TaxonId"])
    except (TypeError, ValueError):
        raise ValueError(f"{name}: TaxonId {row.get('TaxonId')!r} is not a number") from None
    annotation = (row.get("FullAnnotationEnglish") or row.get("AnnotationEnglish") or "").strip()
    if "/" in listing:
        annotation = f"Split listing {listing}. {annotation}".strip()
    english = (row.get("EnglishNames") or "").split(",")[0].strip()
    for column in ("Class", "Order", "Family"):
        if not (row.get(column) or "").strip():
            raise ValueError(f"{name}: {column} is empty")
    return _storable(
        {
            "scientific_name": name,
            "author": (row.get("AuthorYear") or "").strip() or None,
            "taxon_class": row["Class"].strip(),
            "taxon_order": row["Order"].strip(),
            "family": row["Family"].strip(),
            "appendix": _LISTINGS[listing],
            "annotation": annotation or None,
            "cites_taxon_id": taxon_id,
            **({"name_en": english} if english else {}),
        }
    )


def _storable(values: dict) -> dict:
    """Refuse text a species column cannot hold as given: a NUL, or more than the column's length
    (PostgreSQL would fail the whole import on it, SQLite would store it)."""
    columns = Species.__table__.c
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise ValueError(f"{values['scientific_name']!r}: {key} holds a NUL character")
        limit = getattr(columns[key].type, "length", None)
        if limit is not None and len(value) > limit:
            raise ValueError(f"{values['scientific_name'][:60]!r}: {key} is longer than {limit} characters")
    return values


def read_checklist(stream: io.TextIOBase) -> list[tuple[int, dict]]:
    """Rows of a CITES Checklist "Index" CSV, checked for the columns the import needs."""
    reader = csv.DictReader(stream)
    try:
        missing = [c for c in CHECKLIST_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportRejected([RowError(1, f"missing column(s): {', '.join(missing)}")])
        return list(enumerate(reader, start=2))
    except UnicodeDecodeError as exc:
        line = reader.line_num + 1
        raise ImportRejected([RowError(line, f"not UTF-8 text (byte {exc.start} of the chunk read there)")]) from None
    except csv.Error as exc:  # a field past the csv module's limit, a NUL in Python < 3.11, a stray quote
        raise ImportRejected([RowError(reader.line_num, f"not a CSV file the import can read: {exc}")]) from None


def import_checklist(
    actor: Actor, rows: list[tuple[int, dict]], progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Import the official checklist: all rows or none."""
    require(actor, "species.manage")
    valid = _validated(rows, _checklist_row)
    with write_transaction():  # categories and species together, or nothing
        ensure_national_categories(actor)
        return _apply(actor, valid, progress)


def create_party(
    actor: Actor,
    kind: str,
    name: str,
    country: str = "KR",
    registration_no: str | None = None,
    address: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> Party:
    require(actor, "party.manage")
    errors = {}
    if kind not in PARTY_KINDS:
        errors["kind"] = _("one of %(values)s", values=", ".join(PARTY_KINDS))
    if not (name or "").strip():
        errors["name"] = _("required")
    if not (len(country or "") == 2 and country.isalpha() and country.isupper()):
        errors["country"] = _("an ISO 3166-1 alpha-2 code, e.g. KR")
    if errors:
        raise ValidationFailed(_("the party cannot be created"), errors)
    with write_transaction() as session:
        if registration_no and session.scalar(select(Party.id).where(Party.registration_no == registration_no)):
            raise Conflict(
                _("duplicate registration number"),
                {"registration_no": _("%(number)s is already registered", number=registration_no)},
            )
        party = Party(
            kind=kind,
            name=name.strip(),
            country=country,
            registration_no=registration_no or None,
            address=address,
            email=email,
            phone=phone,
        )
        session.add(party)
        session.flush()
        audit.record(actor, "party.create", "party", party.id, None, party.as_audit())
    return party
