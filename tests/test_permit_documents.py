"""Each document type: what the CITES rules require of its application, and its validity."""

from datetime import date, timedelta

import pytest

from registry.models import DOCUMENT_TYPES
from registry.services import permits
from registry.services.errors import ValidationFailed
from tests import uses
from tests.conftest import import_application


def _apply(world, **fields):
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


# What each rule refuses is tested rule by rule in test_document_rules.py. Changed for issue #14:
# an Appendix I import no longer needs the exporting country's permit (Art. III: the import permit
# comes first), rules on a line are reported on the line, a re-export fills box 12 (the origin's
# permit) where it used to put its import permit, and a certificate of origin needs a species that
# another State listed in Appendix III.
@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"foreign_permit_no": ""}, "foreign_permit_no", "exporting country's export permit"),
        ({"foreign_permit_date": ""}, "foreign_permit_date", "date of the exporting country's document"),
    ],
)
def test_import_rules(world, fields, field, words):
    with pytest.raises(ValidationFailed) as exc:
        _apply(world, lines=[{"species_id": world.python, "quantity": "1"}], **fields)
    assert words in exc.value.fields[field]


def test_appendix_i_commercial_import_allowed_from_registered_operation(world):
    assert _apply(world, purpose_code="T", source_code="D").state == "draft"


def test_appendix_i_export_needs_the_import_permit_number(world):
    with pytest.raises(ValidationFailed) as exc:
        _export(world, lines=[{"species_id": world.parrot, "quantity": "1"}])
    assert "importing country's import permit" in exc.value.fields["foreign_permit_no"]
    assert _export(
        world,
        lines=[{"species_id": world.parrot, "quantity": "1"}],
        foreign_permit_no="ZA-I-1",
        foreign_permit_date="2026-01-02",
    ).id


def test_appendix_ii_export_needs_nothing_more(world):
    assert _export(world).state == "draft"


BOX_12 = {"origin_country": "ID", "origin_permit_no": "ID-1", "origin_permit_date": "2025-01-02"}


def test_reexport_needs_origin_and_previous_permit(world):
    with pytest.raises(ValidationFailed) as exc:
        _export(world, "reexport")
    assert set(exc.value.fields) == {"origin_country", "origin_permit_no", "origin_permit_date"}
    assert _export(world, "reexport", **BOX_12).id


def test_certificate_of_origin_is_for_appendix_iii_only(world):
    with pytest.raises(ValidationFailed) as exc:
        _export(world, "origin")
    assert "Appendix III" in exc.value.fields["lines.0.species_id"]


def _listed_species() -> int:
    from registry.services.context import write_transaction
    from tests.conftest import species

    with write_transaction():
        return species("Testudo graeca", "II", listed_on=date(1975, 7, 1))


@pytest.mark.parametrize("doc_type, bad, good", [("captive_breeding", "W", "C"), ("pre_convention", "C", "O")])
def test_certificates_match_their_source(world, doc_type, bad, good):
    lines = [{"species_id": _listed_species(), "quantity": "1", "acquired_on": "1970-01-01"}]
    with pytest.raises(ValidationFailed) as exc:
        _export(world, doc_type, source_code=bad, lines=lines)
    assert "source" in exc.value.fields["lines.0.source_code"]
    assert _export(world, doc_type, source_code=good, lines=lines).id


@pytest.mark.parametrize("doc_type", list(DOCUMENT_TYPES))
def test_validity_by_document_type(world, doc_type):
    fields = {"source_code": {"captive_breeding": "C", "pre_convention": "O"}.get(doc_type, "C")}
    if doc_type == "import":
        p = _apply(world)
    elif doc_type == "origin":
        from registry.services.context import write_transaction
        from tests.conftest import species

        with write_transaction():
            turtle = species("Mauremys reevesii", "III", listing_countries="CN")
        p = _export(world, "origin", lines=[{"species_id": turtle, "quantity": "1"}], **fields)
    elif doc_type == "reexport":
        p = _export(world, "reexport", **BOX_12, **fields)
    elif doc_type == "pre_convention":
        lines = [{"species_id": _listed_species(), "quantity": "1", "acquired_on": "1970-01-01"}]
        p = _export(world, doc_type, lines=lines, **fields)
    else:
        p = _export(world, doc_type, **fields)
    uses.permit_event(world.actor("officer"), p.id, "submit")
    uses.permit_event(world.actor("officer2"), p.id, "approve")
    issued = uses.permit_event(world.actor("officer3"), p.id, "issue")
    months = DOCUMENT_TYPES[doc_type]
    assert issued.valid_from == date.today()
    assert issued.valid_until == permits.add_months(date.today(), months) - timedelta(days=1)
    assert issued.number.startswith(f"KR/{date.today().year}/")
    # Through the border (a refused consignment moves no animal out) and closed.
    uses.endorse(
        world.actor("customs"),
        p.id,
        {
            "direction": "entry" if doc_type == "import" else "exit",
            "port": "ICN",
            "transport_doc": "AWB 7",
            "lines": [{"line_no": 1, "quantity": "1", "outcome": "refused"}],
        },
    )
    assert uses.permit_event(world.actor("officer"), p.id, "close").state == "closed"


def test_numbers_are_unique_and_never_reused(world):
    numbers = []
    for _ in range(3):
        p = _apply(world)
        uses.permit_event(world.actor("officer"), p.id, "submit")
        uses.permit_event(world.actor("officer2"), p.id, "approve")
        numbers.append(uses.permit_event(world.actor("officer3"), p.id, "issue").number)
        uses.permit_event(world.actor("officer2"), p.id, "cancel", {"reason": "test"})
    serials = [int(n.rsplit("/", 1)[1]) for n in numbers]
    assert serials == sorted(serials) and len(set(serials)) == 3 and serials[2] - serials[0] == 2


def test_copy_as_new_and_replacement(world, session):
    from registry.services.errors import Conflict
    from tests.helpers import issued_permit

    original = issued_permit(world)
    copy = uses.copy_application(world.actor("zoo"), original.id)
    assert copy.state == "draft" and copy.replaces_id is None
    assert [(x.species_id, x.quantity) for x in copy.lines] == [(x.species_id, x.quantity) for x in original.lines]
    with pytest.raises(Conflict, match="only a cancelled permit"):
        uses.copy_application(world.actor("zoo"), original.id, replace=True)
    uses.permit_event(world.actor("officer"), original.id, "cancel", {"reason": "shipment delayed"})
    replacement = uses.copy_application(world.actor("zoo"), original.id, replace=True)
    assert replacement.replaces_id == original.id
    assert replacement.special_conditions == f"Replaces {original.number}, cancelled: shipment delayed"
    with pytest.raises(Conflict, match="already has a replacement"):
        uses.copy_application(world.actor("zoo"), original.id, replace=True)


def test_declaring_from_the_permit_page(client, login, world, session):
    from registry.models import Animal
    from tests.helpers import issued_permit

    permit = issued_permit(world)
    login(world.users["zoo"])
    page = client.get(f"/permits/{permit.id}").get_data(as_text=True)
    assert "Declare an animal" in page and "Copy as new" in page
    client.post(f"/permits/{permit.id}/lines/1/animals", data={"sex": "F", "microchip": "410000000007001"})
    animal = session.query(Animal).filter_by(permit_line_id=permit.lines[0].id).one()
    assert animal.state == "declared" and animal.identifiers[0].value == "410000000007001"


def test_a_keeper_cannot_touch_another_keepers_permit(world):
    from registry.services.errors import NotFound

    p = uses.create_application(world.actor("zoo"), import_application(world))
    for act in (
        lambda: uses.permit_event(world.actor("breeder"), p.id, "submit"),
        lambda: uses.update_application(world.actor("breeder"), p.id, import_application(world)),
        lambda: uses.copy_application(world.actor("breeder"), p.id),
        lambda: uses.permit_event(world.actor("breeder"), p.id, "withdraw"),
    ):
        with pytest.raises(NotFound):
            act()
    assert p.state == "draft"


def test_the_applications_shape_is_checked_at_the_edge(world):
    """Codes, countries and quantities are the schema's to refuse, every field at once; blank rows
    of the form are left out and codes may be typed in either case."""
    with pytest.raises(ValidationFailed) as exc:
        _apply(world, import_country="QQ", lines=[{"species_id": world.parrot, "quantity": "1.5"}])
    assert exc.value.fields == {
        "import_country": "an ISO 3166-1 alpha-2 country code",
        "lines.0.quantity": "live animals are counted in whole numbers",
    }
    blank = {"species_id": "", "quantity": "", "term_code": "", "unit_code": "", "description": ""}
    p = _apply(world, purpose_code="z", lines=[blank, {"species_id": world.parrot, "quantity": "2"}, blank])
    assert p.purpose_code == "Z" and [(x.line_no, x.quantity) for x in p.lines] == [(1, 2)]
