"""Rules added after review: consent in transfers, four eyes on editors, use of permits, leaks."""

import pytest

from registry.models import AuditEntry, NationalCategory
from registry.services import audit, reference
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.conftest import import_application
from tests.helpers import animal_in, declared_animal, export_permit, permit_in


def test_holder_who_is_not_owner_cannot_transfer(world, operator):

    animal = animal_in(world, "in_captivity")
    uses.fire(operator, animal.id, "transfer", {"facility_id": world.breeder_site})  # zoo owns, breeder holds
    with pytest.raises(Conflict, match="only the owner"):
        uses.offer(world.actor("breeder"), {"animal_ids": [animal.id], "facility_id": world.breeder_site})


def test_application_can_be_edited_and_editors_cannot_decide(world, session):
    p = permit_in(world, "submitted")
    uses.permit_event(world.actor("officer"), p.id, "request_changes", {"reason": "add the ring numbers"})
    data = import_application(
        world,
        lines=[
            {"species_id": world.parrot, "quantity": "2", "description": "rings A1, A2"},
            {"species_id": world.python, "quantity": "1"},
        ],
    )
    edited = uses.update_application(world.actor("officer"), p.id, data)
    assert [(x.line_no, x.quantity) for x in edited.lines] == [(1, 2), (2, 1)]
    uses.permit_event(world.actor("zoo"), p.id, "submit")
    with pytest.raises(Conflict, match="drafted or edited"):
        uses.permit_event(world.actor("officer"), p.id, "approve")
    assert uses.permit_event(world.actor("officer2"), p.id, "approve").state == "approved"


def test_export_permit_is_used_up(world, operator):
    exporting = export_permit(world)  # 5 parrots
    for _ in range(5):
        uses.fire(operator, _fresh(world), "export", {"permit_id": exporting.id})
    with pytest.raises(Conflict, match=r"used up for this species \(5 of 5\)"):
        uses.fire(operator, _fresh(world), "export", {"permit_id": exporting.id})


def _fresh(world) -> int:
    """A parrot in captivity in a facility of its own (the world's facilities are small)."""
    import uuid

    site = uses.register_facility(
        world.operator, f"F-{uuid.uuid4().hex[:8]}", "Extra", world.zoo, "x", {world.parrot: 1}
    ).id
    a = animal_in(world, "entered")
    return uses.fire(world.operator, a.id, "register", {"facility_id": site}).id


@pytest.mark.parametrize("state", ["refused", "withdrawn", "cancelled"])
def test_no_declaration_on_closed_applications(world, state):
    p = permit_in(world, state)
    with pytest.raises(Conflict, match="no more animals can be declared"):
        uses.declare(world.actor("zoo"), p.lines[0].id, {})


def test_no_declaration_on_export_documents(world):
    with pytest.raises(Conflict, match="declared on import documents"):
        uses.declare(world.operator, export_permit(world).lines[0].id, {})


def test_exported_and_disposed_have_no_holder(world):
    gone = animal_in(world, "exported", export_permit_id=export_permit(world).id)
    dead = animal_in(world, "disposed")
    for a in (gone, dead):
        assert (a.holder_party_id, a.facility_id, a.owner_party_id) == (None, None, world.zoo)


def test_void_declaration_releases_its_microchip(world):
    first = declared_animal(world, chip="410000000009999")
    uses.fire(world.actor("customs"), first.id, "refuse_entry", {"reason": "no CITES export permit"})
    again = declared_animal(world, chip="410000000009999")
    assert again.identifiers[0].active and not first.identifiers[0].active
    from registry.extensions import db

    entry = db.session.query(AuditEntry).filter_by(action="animal.refuse_entry").one()
    assert entry.after["event"]["released_identifiers"] == ["microchip 410000000009999"]


def test_border_seizure_cannot_be_returned_into_captivity(world):
    a = declared_animal(world)
    uses.fire(world.actor("customs"), a.id, "seize", {"facility_id": world.rescue, "reason": "forged permit"})
    with pytest.raises(Conflict, match="seized at the border"):
        uses.fire(world.actor("officer"), a.id, "return", {"facility_id": world.zoo_site})
    assert uses.fire(world.actor("officer"), a.id, "forfeit", {}).owner_party_id == world.authority


def test_keeper_learns_nothing_about_other_facilities(world):
    a = animal_in(world, "entered")
    with pytest.raises(Conflict) as exc:
        uses.fire(world.actor("zoo"), a.id, "register", {"facility_id": world.rescue})
    assert "their own facility" in exc.value.message and "F-RES" not in exc.value.message


def test_keeper_forms_list_the_facility_register_but_no_parties(client, login, world):
    a = animal_in(world, "in_captivity")
    login(world.users["zoo"])
    page = client.get("/transfers/new").get_data(as_text=True)
    assert "Aviary (F-BRD)" in page and a.registry_no in page and "Foreign Exporter" not in page
    page = client.get(f"/animals/{a.id}/events/register").get_data(as_text=True)
    assert "Aviary" not in page


def test_unknown_user_costs_the_same_hash(app, world):
    from registry.password_hash import dummy_hash

    with app.app_context():
        # "$argon2id$v=19$m=...,t=...,p=...$salt$hash": the same scheme, version and parameters.
        assert dummy_hash().split("$")[:4] == world.users["zoo"].password_hash.split("$")[:4]


def test_entries_appended_behind_the_heads_back_are_caught(world, session):
    from sqlalchemy import text

    from registry import audit_chain

    last = session.query(AuditEntry).order_by(AuditEntry.seq.desc()).first()
    forged = audit.entry_dict(last) | {"seq": last.seq + 1, "prev_hash": last.entry_hash, "action": "forged"}
    forged["entry_hash"] = audit_chain.compute_hash(forged)
    session.add(AuditEntry(**forged))
    session.flush()
    verdict = audit.verify_database()
    assert not verdict.ok and verdict.bad_seq == last.seq + 1 and "beyond the recorded chain head" in verdict.problem
    session.execute(text("SELECT 1"))


def test_species_import_is_one_transaction(session, operator):
    import io

    from tests.test_species import _checklist, _taxon

    rows = reference.read_checklist(
        io.StringIO(_checklist([_taxon(1, "Furcifer pardalis"), _taxon(1, "Furcifer lateralis")]))
    )
    with pytest.raises(ValidationFailed) as exc:
        reference.import_checklist(operator, rows)
    assert "TaxonId 1001 repeats line 2" in str(exc.value.errors[0])
    assert session.query(NationalCategory).count() == 0


def test_application_form_shows_keepers_only_their_party_and_foreign_partners(client, login, world):
    login(world.users["zoo"])
    page = client.get("/permits/new").get_data(as_text=True)
    assert "Foreign Exporter" in page and "City Zoo" in page and "Kim Breeder" not in page
    login(world.users["officer"])
    assert "Kim Breeder" in client.get("/permits/new").get_data(as_text=True)
