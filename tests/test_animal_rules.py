"""The guards and data rules of the animal lifecycle, and who may fire what."""

from datetime import date, timedelta

import pytest

from registry.models import Animal, Identifier, Keeping
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests import uses
from tests.helpers import after_validity, animal_in, declared_animal, issued_permit


def test_register_into_unregistered_or_full_facility_is_refused(world, session, operator):

    other = uses.register_facility(operator, "F-TINY", "Tiny", world.zoo, "x", {world.python: 1}).id
    animal = animal_in(world, "entered")
    with pytest.raises(Conflict, match="not registered for this species"):
        uses.fire(world.actor("zoo"), animal.id, "register", {"facility_id": other})
    # The breeder's aviary takes 2 parrots: the third is refused with the numbers.
    for _ in range(2):
        a = animal_in(world, "entered")
        uses.fire(operator, a.id, "register", {"facility_id": world.breeder_site})
    with pytest.raises(Conflict, match=r"at capacity .* \(2 of 2\)"):
        uses.fire(operator, animal.id, "register", {"facility_id": world.breeder_site})


def test_keeper_places_animals_only_in_own_facility(world):
    animal = animal_in(world, "entered")
    with pytest.raises(Conflict, match="their own facility"):
        uses.fire(world.actor("zoo"), animal.id, "register", {"facility_id": world.breeder_site})


def test_keeper_cannot_touch_another_keepers_animal(world):
    animal = animal_in(world, "in_captivity")  # owned and held by the zoo
    with pytest.raises(NotFound):
        uses.fire(world.actor("breeder"), animal.id, "death", {"cause": "x"})


def test_capability_checked_before_state(world):
    animal = animal_in(world, "declared")
    with pytest.raises(Forbidden):
        uses.fire(world.actor("zoo"), animal.id, "enter", {"port": "ICN"})
    with pytest.raises(Forbidden):
        uses.fire(world.actor("auditor"), animal.id, "death", {"cause": "x"})


def test_entry_refused_on_expired_permit(world):
    permit = issued_permit(world)
    animal = declared_animal(world, permit=permit)
    with after_validity(permit), pytest.raises(Conflict, match="expired on"):
        uses.fire(world.actor("customs"), animal.id, "enter", {"port": "ICN"})


def test_declaring_more_animals_than_the_line_allows_is_refused(world):
    permit = issued_permit(world)  # 3 parrots
    for _ in range(3):
        declared_animal(world, permit=permit)
    with pytest.raises(ValidationFailed, match="cannot be declared") as exc:
        declared_animal(world, permit=permit)
    assert "fully declared" in exc.value.fields["permit_line_id"]


def test_transfer_moves_owner_and_holder_and_keeps_history(world, session):
    animal = animal_in(world, "in_captivity")
    uses.fire(
        world.actor("officer"),
        animal.id,
        "transfer",
        {"owner_party_id": world.breeder, "facility_id": world.breeder_site},
    )
    animal = session.get(Animal, animal.id)
    assert (animal.owner_party_id, animal.holder_party_id, animal.facility_id) == (
        world.breeder,
        world.breeder,
        world.breeder_site,
    )
    periods = session.query(Keeping).filter_by(animal_id=animal.id).order_by(Keeping.id).all()
    assert [(k.relation, k.party_id, k.until is None) for k in periods] == [
        ("owner", world.zoo, False),
        ("holder", world.zoo, False),
        ("owner", world.breeder, True),
        ("holder", world.breeder, True),
    ]


def test_custody_only_transfer_keeps_owner(world, session, operator):
    animal = animal_in(world, "in_captivity")
    uses.fire(operator, animal.id, "transfer", {"facility_id": world.rescue})
    animal = session.get(Animal, animal.id)
    assert animal.owner_party_id == world.zoo and animal.holder_party_id == world.authority


def test_transfer_that_changes_nothing_is_refused(world):
    animal = animal_in(world, "in_captivity")
    with pytest.raises(Conflict, match="must change"):
        uses.fire(world.operator, animal.id, "transfer", {"facility_id": world.zoo_site})


def test_birth_links_parents_and_checks_them(world, session):
    sire, dam = animal_in(world, "in_captivity"), animal_in(world, "in_captivity")
    keeper = world.actor("zoo")
    born = (date.today() - timedelta(days=2)).isoformat()
    with pytest.raises(Conflict, match="recorded with sex F"):  # declared animals are female
        uses.register_birth(
            keeper, {"species_id": world.parrot, "facility_id": world.zoo_site, "sire_id": sire.id, "birth_date": born}
        )
    session.get(Animal, sire.id).sex = "M"
    session.commit()
    chick = uses.register_birth(
        keeper,
        {
            "species_id": world.parrot,
            "facility_id": world.zoo_site,
            "sire_id": sire.id,
            "dam_id": dam.id,
            "birth_date": born,
            "identifiers": [{"kind": "closed_ring", "value": "R-1"}],
        },
    )
    assert (chick.sire_id, chick.dam_id, chick.state, chick.source_code) == (sire.id, dam.id, "in_captivity", "C")
    assert chick.owner_party_id == world.zoo and chick.identifiers[0].value == "R-1"
    # The breeder does not hold these parents: refused (and they are not even visible to her).
    with pytest.raises(ValidationFailed):
        uses.register_birth(
            world.actor("breeder"),
            {"species_id": world.parrot, "facility_id": world.breeder_site, "dam_id": dam.id, "birth_date": born},
        )


def test_birth_refuses_parents_the_keeper_does_not_hold(world, session, operator):
    dam = animal_in(world, "in_captivity")
    uses.fire(operator, dam.id, "transfer", {"facility_id": world.breeder_site})  # zoo owns, breeder holds
    with pytest.raises(Conflict, match="not held by the reporting keeper"):
        uses.register_birth(
            world.actor("zoo"),
            {
                "species_id": world.parrot,
                "facility_id": world.zoo_site,
                "dam_id": dam.id,
                "birth_date": date.today().isoformat(),
            },
        )


def test_birth_from_dead_parent_or_future_date_is_refused(world, operator):
    dam = animal_in(world, "dead")
    with pytest.raises(Conflict, match="not in captivity"):
        uses.register_birth(
            operator,
            {
                "species_id": world.parrot,
                "facility_id": world.zoo_site,
                "dam_id": dam.id,
                "birth_date": date.today().isoformat(),
            },
        )
    with pytest.raises(ValidationFailed) as exc:
        uses.register_birth(
            operator,
            {
                "species_id": world.parrot,
                "facility_id": world.zoo_site,
                "birth_date": (date.today() + timedelta(days=1)).isoformat(),
            },
        )
    assert exc.value.fields == {"birth_date": "cannot be in the future"}


def test_disease_forces_incineration_or_burial(world):
    animal = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), animal.id, "death", {"cause": "avian flu?", "disease_suspected": "on"})
    rendering = {"method": "rendering", "handler": "R Co", "licence_no": "L1", "place": "p", "witness": "w"}
    with pytest.raises(Conflict, match="incinerated or buried"):
        uses.fire(world.actor("zoo"), animal.id, "dispose", rendering)
    done = uses.fire(world.actor("zoo"), animal.id, "dispose", rendering | {"method": "incineration"})
    assert done.state == "disposed" and done.facility_id is None


def test_disposal_of_a_live_animal_is_refused(world):
    animal = animal_in(world, "in_captivity")
    with pytest.raises(Conflict, match="possible only when the animal is 'Dead'"):
        uses.fire(
            world.actor("zoo"), animal.id, "dispose", {"method": "burial", "handler": "h", "place": "p", "witness": "w"}
        )


def test_missing_fields_are_reported_per_field_and_change_nothing(world, session):
    animal = animal_in(world, "in_captivity")
    with pytest.raises(ValidationFailed):  # the input's shape is checked at the edge, before anything is loaded
        uses.fire(world.actor("zoo"), animal.id, "dispose", {})
    uses.fire(world.actor("zoo"), animal.id, "death", {"cause": "x"})
    with pytest.raises(ValidationFailed) as exc:
        uses.fire(world.actor("zoo"), animal.id, "dispose", {"method": "fire"})
    assert set(exc.value.fields) == {"method", "handler", "place", "witness"}
    assert session.get(Animal, animal.id).state == "dead"


def test_stale_version_is_a_conflict(world):
    animal = animal_in(world, "in_captivity")
    old = animal.version
    uses.fire(world.actor("zoo"), animal.id, "report_missing", {"circumstances": "gone"}, expected_version=old)
    with pytest.raises(Conflict, match="changed by someone else"):
        uses.fire(world.actor("zoo"), animal.id, "recover", {}, expected_version=old)


def test_seizure_return_and_forfeit(world, session, operator):
    animal = animal_in(world, "in_captivity")
    uses.fire(world.actor("officer"), animal.id, "seize", {"facility_id": world.rescue, "reason": "cruelty"})
    returned = uses.fire(world.actor("officer"), animal.id, "return", {})
    assert returned.facility_id == world.zoo_site and returned.holder_party_id == world.zoo
    uses.fire(world.actor("customs"), animal.id, "seize", {"facility_id": world.rescue, "reason": "again"})
    forfeited = uses.fire(world.actor("officer"), animal.id, "forfeit", {})
    assert forfeited.owner_party_id == world.authority and forfeited.state == "in_captivity"


def test_microchip_format_and_uniqueness(world, session):
    a = declared_animal(world, chip="410100000000001")
    with pytest.raises(Conflict, match="already in use"):
        declared_animal(world, chip="410100000000001")
    with pytest.raises(ValidationFailed) as exc:
        uses.add_identifier(world.operator, a.id, "microchip", "12345")
    assert "15 digits" in exc.value.fields["value"]
    # A retired chip number may be used again; the history keeps both.
    chip = session.query(Identifier).filter_by(animal_id=a.id).one()
    uses.retire_identifier(world.operator, chip.id)
    b = declared_animal(world, chip="410100000000001")
    assert session.query(Identifier).filter_by(value="410100000000001").count() == 2
    assert [i.active for i in session.get(Animal, a.id).identifiers] == [False]
    assert [i.active for i in session.get(Animal, b.id).identifiers] == [True]


def test_active_microchip_unique_in_the_database_too(world, session):
    from sqlalchemy.exc import IntegrityError

    a, b = declared_animal(world), declared_animal(world)
    with session.begin_nested():
        session.add(Identifier(animal_id=a.id, kind="microchip", value="999000000000001"))
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Identifier(animal_id=b.id, kind="microchip", value="999000000000001"))


def test_export_needs_an_export_permit_for_the_species(world):
    animal = animal_in(world, "in_captivity")
    import_permit = issued_permit(world)
    with pytest.raises(Conflict, match="not an export document"):
        uses.fire(world.actor("customs"), animal.id, "export", {"permit_id": import_permit.id})


def test_donation_needs_an_officers_approval(world):
    animal = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), animal.id, "death", {"cause": "age"})
    donation = {"method": "donation", "handler": "National Science Museum", "place": "Daejeon", "witness": "curator"}
    with pytest.raises(Conflict, match="a ministry officer must approve it first"):
        uses.fire(world.actor("zoo"), animal.id, "dispose", donation)
    with pytest.raises(Forbidden):
        uses.fire(world.actor("zoo"), animal.id, "approve_donation", {"recipient": "National Science Museum"})
    uses.fire(world.actor("officer"), animal.id, "approve_donation", {"recipient": "National Science Museum"})
    assert uses.fire(world.actor("zoo"), animal.id, "dispose", donation).state == "disposed"
