"""Words for the registry's coded values, marked for translation; templates show them with ``|label``."""

from registry.i18n import N_

LABELS: dict[str, dict[str, str]] = {
    "doc_type": {
        "import": N_("Import permit"),
        "export": N_("Export permit"),
        "reexport": N_("Re-export certificate"),
        "origin": N_("Certificate of origin"),
        "captive_breeding": N_("Captive-breeding certificate"),
        "pre_convention": N_("Pre-Convention certificate"),
    },
    "identifier": {
        "microchip": N_("microchip"),
        "closed_ring": N_("closed ring"),
        "split_ring": N_("split ring"),
        "tag": N_("tag"),
        "tattoo": N_("tattoo"),
        "photo": N_("photo"),
        "other": N_("other"),
    },
    "disposal": {
        "incineration": N_("Incineration"),
        "burial": N_("Burial"),
        "rendering": N_("Rendering"),
        "donation": N_("Donation to a museum or research institute"),
        "other": N_("Other"),
    },
    "direction": {"export": N_("Exports"), "import": N_("Imports")},
    "relation": {"owner": N_("owner"), "holder": N_("holder")},
    "inspection": {"passed": N_("passed"), "improvement_ordered": N_("improvement ordered"), "failed": N_("failed")},
    "attachment": {
        "vet_certificate": N_("veterinary certificate"),
        "photo": N_("photo"),
        "facility_plan": N_("facility plan"),
        "disposal_receipt": N_("disposal receipt"),
        "other": N_("other"),
    },
    "sex": {"M": N_("Male"), "F": N_("Female"), "U": N_("Unknown")},
    # Audit actions that are not a lifecycle's own event (those read as the event's label).
    "action": {
        "permit.update": N_("Application edited"),
        "permit.copy": N_("Copied as a new application"),
        "permit.replace": N_("Replacement application drafted"),
        "permit.foreign_document": N_("Partner authority's document recorded"),
    },
    "audit_filter": {
        "animal": N_("Animal"),
        "permit": N_("Permit"),
        "species": N_("Species"),
        "keeper": N_("Keeper"),
        "actor": N_("Actor"),
        "action": N_("Action"),
        "since": N_("Since"),
        "until": N_("Until"),
    },
    # The keys of a timeline event's details (registry.services.animals.EVENTS).
    "detail": {
        "facility_id": N_("Facility"),
        "previous_facility_id": N_("Previous facility"),
        "owner_party_id": N_("Owner"),
        "permit_id": N_("Permit"),
        "permit_line_id": N_("Permit"),
        "sire_id": N_("Sire"),
        "dam_id": N_("Dam"),
        "port": N_("Port"),
        "note": N_("Note"),
        "reason": N_("Reason"),
        "cause": N_("Cause of death"),
        "disease_suspected": N_("Disease suspected"),
        "method": N_("Method"),
        "handler": N_("Contractor or recipient"),
        "licence_no": N_("Licence No."),
        "place": N_("Place"),
        "witness": N_("Witness"),
        "circumstances": N_("Circumstances"),
        "recipient": N_("Recipient"),
        "released_identifiers": N_("Identifiers released"),
    },
}


def label(value, kind: str) -> str:
    """The English word for a coded value (to be translated by the caller), or the value itself."""
    return LABELS.get(kind, {}).get(value, value)


def choices(kind: str, values) -> list[tuple[str, object]]:
    """(value, translatable label) pairs for a select field, translated when the form is rendered."""
    from flask_babel import lazy_gettext

    return [(value, lazy_gettext(label(value, kind))) for value in values]
