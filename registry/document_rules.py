"""Which documents a shipment needs, by appendix and direction (CITES Arts. III-V, VII), as data.

Each rule applies to an application of one document type and says, for a line of a species in a
given appendix, what the application must carry or may not do. The permit service checks every
rule when a draft is saved, so the applicant learns at once what is missing, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.i18n import N_, _


@dataclass(frozen=True)
class Rule:
    doc_types: frozenset[str]
    appendices: frozenset[str]
    #: The field the refusal is attached to.
    field: str
    #: Marked for translation; translated when the rule is reported.
    reason: str
    #: True when the application breaks the rule.
    broken: Callable[[dict], bool]


def _rule(doc_types, appendices, field, reason, broken) -> Rule:
    return Rule(frozenset(doc_types.split()), frozenset(appendices.split()), field, reason, broken)


RULES: tuple[Rule, ...] = (
    _rule(
        "import",
        "I II III",
        "foreign_permit_no",
        N_(
            "an import needs the number of the exporting country's export permit, re-export certificate "
            "or certificate of origin (Arts. III.3, IV.4, V.2-4)"
        ),
        lambda a: not a.get("foreign_permit_no"),
    ),
    _rule(
        "import",
        "I",
        "purpose_code",
        N_(
            "Appendix I specimens may not be imported for primarily commercial purposes (Art. III.3(c)), "
            "unless bred in captivity in a registered operation (source D)"
        ),
        lambda a: a.get("purpose_code") == "T" and a.get("source_code") != "D",
    ),
    _rule(
        "export",
        "I",
        "foreign_permit_no",
        N_("an Appendix I export needs the number of the importing country's import permit (Art. III.2(d))"),
        lambda a: not a.get("foreign_permit_no"),
    ),
    _rule(
        "reexport",
        "I II III",
        "foreign_permit_no",
        N_("a re-export certificate needs the number of the permit under which the specimens were imported (box 12a)"),
        lambda a: not a.get("foreign_permit_no"),
    ),
    _rule(
        "reexport",
        "I II III",
        "origin_country",
        N_("a re-export certificate needs the country of origin (box 12)"),
        lambda a: not a.get("origin_country"),
    ),
    _rule(
        "origin",
        "I II",
        "lines",
        N_("a certificate of origin is for Appendix III specimens only (Art. V.3)"),
        lambda a: True,
    ),
    _rule(
        "captive_breeding",
        "I II III",
        "source_code",
        N_("a captive-breeding certificate covers specimens bred in captivity (source C, D or F) (Art. VII.4-5)"),
        lambda a: a.get("source_code") not in ("C", "D", "F"),
    ),
    _rule(
        "pre_convention",
        "I II III",
        "source_code",
        N_("a pre-Convention certificate covers pre-Convention specimens (source O) (Art. VII.2)"),
        lambda a: a.get("source_code") != "O",
    ),
)


def problems(application: dict, appendices: set[str]) -> dict[str, str]:
    """The broken rules of an application whose lines are of species in *appendices*, by field."""
    found: dict[str, str] = {}
    for rule in RULES:
        applies = application.get("doc_type") in rule.doc_types and appendices & rule.appendices
        if applies and rule.field not in found and rule.broken(application):
            found[rule.field] = _(rule.reason)
    return found
