"""Which documents a shipment needs, by appendix, source, direction and population (CITES Arts.
III-V, VII; Res. Conf. 12.3), as data.

Each rule names the document types it applies to, the appendices and sources of the lines it
applies to, the field its refusal is attached to, and the reason. A line's appendix is its
population's (``Species.appendix_for``: split listings), stored on the line. Two kinds of rule:

- an application rule applies when any line matches and checks the application (a box of the
  document: the foreign permit, box 12, the parties' countries);
- a line rule checks each matching line and is reported on ``lines.N.<field>``.

The permit service checks every rule when a draft is saved, so the applicant learns at once what
is missing, with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from registry.i18n import N_, _

ALL_DOCUMENTS = "import export reexport origin captive_breeding pre_convention"
#: Documents issued on the export side (this country is the country of export or re-export).
EXPORT_SIDE = "export reexport origin captive_breeding pre_convention"
ALL_SOURCES = "W R D C F U I O X A"
ALL_APPENDICES = "I II III"


@dataclass(frozen=True)
class Line:
    """What the rules read about one line."""

    #: The population's appendix (box 10), as stored on the line.
    appendix: str
    source: str
    purpose: str
    acquired_on: date | None = None
    #: The species' first listing (Art. VII.2), None when not recorded.
    listed_on: date | None = None
    #: Whether this registry's country listed the species in Appendix III.
    listed_by_us: bool = False

    @property
    def rule_appendix(self) -> str:
        """The appendix the rules treat the line as: Appendix I bred in captivity for commercial
        purposes (source D) is treated as Appendix II (Art. VII.4); source F follows W
        (Notif. 1998/14), so stays in Appendix I."""
        return "II" if self.appendix == "I" and self.source == "D" else self.appendix


@dataclass(frozen=True)
class Application:
    """What the rules read about the application (the fields of ``commands.permits.Application``)."""

    doc_type: str
    import_country: str
    export_country: str
    lines: tuple[Line, ...]
    foreign_permit_no: str | None = None
    foreign_permit_date: date | None = None
    origin_country: str | None = None
    origin_permit_no: str | None = None
    origin_permit_date: date | None = None
    reexport_country: str | None = None
    reexport_permit_no: str | None = None
    reexport_permit_date: date | None = None
    #: The countries of the importer and exporter parties named (None: no party named).
    importer_country: str | None = None
    exporter_country: str | None = None


@dataclass(frozen=True)
class Rule:
    doc_types: frozenset[str]
    #: The lines it applies to: by the appendix the rules treat them as, and by their source.
    appendices: frozenset[str]
    sources: frozenset[str]
    #: The field the refusal is attached to (a line rule: the line's field, reported as lines.N.field).
    field: str
    #: Marked for translation; translated when the rule is reported.
    reason: str
    #: True when the application (and, for a line rule, the line) breaks the rule.
    broken: Callable[[Application, Line], bool]
    per_line: bool = False
    #: Arguments of the reason, from the application and line (e.g. the listing date).
    arguments: Callable[[Application, Line], dict] = dataclasses.field(default=lambda a, line: {})

    def matches(self, application: Application, line: Line) -> bool:
        return (
            application.doc_type in self.doc_types
            and line.rule_appendix in self.appendices
            and line.source in self.sources
        )


def _rule(
    doc_types: str, appendices: str, field: str, reason: str, broken, *, sources: str = ALL_SOURCES, **kw
) -> Rule:
    return Rule(
        frozenset(doc_types.split()),
        frozenset(appendices.split()),
        frozenset(sources.split()),
        field,
        reason,
        broken,
        **kw,
    )


def _line_rule(doc_types: str, appendices: str, field: str, reason: str, broken, **kw) -> Rule:
    return _rule(doc_types, appendices, field, reason, broken, per_line=True, **kw)


def _partial(*values) -> bool:
    """Some of a box's parts are given, not all: a box is filled in whole or left empty."""
    given = [value is not None for value in values]
    return any(given) and not all(given)


RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ every document
    _rule(
        ALL_DOCUMENTS,
        ALL_APPENDICES,
        "export_country",
        N_("the country of export and the country of import must differ: a document is for trade between States"),
        lambda a, line: a.import_country == a.export_country,
    ),
    _rule(
        ALL_DOCUMENTS,
        ALL_APPENDICES,
        "importer_party_id",
        N_("the importer's country must be the country of import (boxes 1 and 3)"),
        lambda a, line: a.importer_country is not None and a.importer_country != a.import_country,
    ),
    _rule(
        ALL_DOCUMENTS,
        ALL_APPENDICES,
        "exporter_party_id",
        N_("the exporter's country must be the country of export (boxes 2 and 4)"),
        lambda a, line: a.exporter_country is not None and a.exporter_country != a.export_country,
    ),
    _line_rule(
        ALL_DOCUMENTS,
        "II III",
        "source_code",
        N_("source D (bred in captivity in a registered operation) is for Appendix I species only"),
        lambda a, line: line.source == "D" and line.appendix != "I",
        sources="D",
    ),
    # ------------------------------------------------------------ imports (Arts. III.3, IV.4, V.4)
    # Appendix I: the import permit comes first (Art. III.3) and is applied for without the
    # exporting country's permit; customs records that permit at entry.
    _rule(
        "import",
        "II III",
        "foreign_permit_no",
        N_(
            "an import of Appendix II or III specimens needs the number of the exporting country's export permit, "
            "re-export certificate or certificate of origin (Arts. IV.4, V.4)"
        ),
        lambda a, line: not a.foreign_permit_no,
    ),
    _rule(
        "import",
        "II III",
        "foreign_permit_date",
        N_("an import of Appendix II or III specimens needs the date of the exporting country's document"),
        lambda a, line: a.foreign_permit_date is None,
    ),
    _line_rule(
        "import",
        "I",
        "purpose_code",
        N_(
            "Appendix I specimens may not be imported for primarily commercial purposes (Art. III.3(c)), "
            "unless bred in captivity in a registered operation (source D)"
        ),
        lambda a, line: line.purpose == "T",
    ),
    # ------------------------------------------------------------ exports and re-exports of Appendix I
    _rule(
        "export reexport",
        "I",
        "foreign_permit_no",
        N_(
            "an Appendix I export or re-export needs the number of the importing country's import permit "
            "(Arts. III.2(d), III.4(c))"
        ),
        lambda a, line: not a.foreign_permit_no,
    ),
    _rule(
        "export reexport",
        "I",
        "foreign_permit_date",
        N_("an Appendix I export or re-export needs the date of the importing country's import permit"),
        lambda a, line: a.foreign_permit_date is None,
    ),
    # ------------------------------------------------------------ re-export (boxes 12 and 12a)
    _rule(
        "reexport",
        ALL_APPENDICES,
        "origin_country",
        N_("a re-export certificate needs the country of origin (box 12)"),
        lambda a, line: not a.origin_country,
    ),
    _rule(
        "reexport",
        ALL_APPENDICES,
        "origin_permit_no",
        N_("a re-export certificate needs the number of the country of origin's export permit (box 12)"),
        lambda a, line: not a.origin_permit_no,
    ),
    _rule(
        "reexport",
        ALL_APPENDICES,
        "origin_permit_date",
        N_("a re-export certificate needs the date of the country of origin's export permit (box 12)"),
        lambda a, line: a.origin_permit_date is None,
    ),
    _rule(
        ALL_DOCUMENTS,
        ALL_APPENDICES,
        "reexport_country",
        N_("box 12a is filled in whole or left empty: the country of last re-export, its certificate and date"),
        lambda a, line: _partial(a.reexport_country, a.reexport_permit_no, a.reexport_permit_date),
    ),
    # ------------------------------------------------------------ export permits of Appendix III (Art. V.2)
    _line_rule(
        "export",
        "III",
        "species_id",
        N_(
            "an export permit for an Appendix III species is issued by a State that listed it (Art. V.2); "
            "otherwise apply for a certificate of origin (Art. V.3)"
        ),
        lambda a, line: not line.listed_by_us,
    ),
    # ------------------------------------------------------------ certificates
    _line_rule(
        "origin",
        "I II",
        "species_id",
        N_("a certificate of origin is for Appendix III specimens only (Art. V.3)"),
        lambda a, line: True,
    ),
    _line_rule(
        "origin",
        "III",
        "species_id",
        N_(
            "this country listed the species in Appendix III: its specimens leave on an export permit (Art. V.2), "
            "not a certificate of origin"
        ),
        lambda a, line: line.listed_by_us,
    ),
    _line_rule(
        "captive_breeding",
        ALL_APPENDICES,
        "source_code",
        N_("a captive-breeding certificate covers specimens bred in captivity (source C or D) (Art. VII.4-5)"),
        lambda a, line: line.source not in ("C", "D"),
    ),
    _line_rule(
        "pre_convention",
        ALL_APPENDICES,
        "source_code",
        N_("a pre-Convention certificate covers pre-Convention specimens (source O) (Art. VII.2)"),
        lambda a, line: line.source != "O",
    ),
    _line_rule(
        "pre_convention",
        ALL_APPENDICES,
        "acquired_on",
        N_("a pre-Convention certificate needs each specimen's date of acquisition (box 12b)"),
        lambda a, line: line.acquired_on is None,
    ),
    _line_rule(
        "pre_convention",
        ALL_APPENDICES,
        "acquired_on",
        N_("the species' listing date is not recorded, so the acquisition cannot be shown to precede it"),
        lambda a, line: line.acquired_on is not None and line.listed_on is None,
    ),
    _line_rule(
        "pre_convention",
        ALL_APPENDICES,
        "acquired_on",
        N_("acquired on or after the species was listed (%(listed_on)s): not a pre-Convention specimen (Art. VII.2)"),
        lambda a, line: (
            line.acquired_on is not None and line.listed_on is not None and line.acquired_on >= line.listed_on
        ),
        arguments=lambda a, line: {"listed_on": line.listed_on.isoformat() if line.listed_on else "-"},
    ),
)


def problems(application: Application) -> dict[str, str]:
    """The broken rules of *application*, by field (``lines.N.field`` for a line's); the first
    broken rule of a field is the one reported."""
    found: dict[str, str] = {}
    for rule in RULES:
        for n, line in enumerate(application.lines):
            name = f"lines.{n}.{rule.field}" if rule.per_line else rule.field
            if name in found or not rule.matches(application, line):
                continue
            if rule.broken(application, line):
                found[name] = _(rule.reason, **rule.arguments(application, line))
            if not rule.per_line:
                break  # an application rule is checked once, for the first line it applies to
    return found
