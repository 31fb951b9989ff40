"""What the document rules read about a species (issue #14): its first listing date, the
Appendix III listing States and the populations of a split listing, from the curated list and
corrected by the administrator."""

from datetime import date

import pytest

from registry.models import Species
from registry.services import admin, reference
from registry.services.errors import ValidationFailed


def _named(session, name: str) -> Species:
    return session.query(Species).filter_by(scientific_name=name).one()


def test_the_curated_list_carries_listing_dates_states_and_populations(session, operator):
    reference.load_curated_species(operator)
    elephant = _named(session, "Loxodonta africana")
    assert [(p.countries, p.appendix) for p in elephant.populations] == [("BW NA ZA ZW", "II")]
    assert (elephant.appendix_for("ZA"), elephant.appendix_for("KE"), elephant.appendix_for(None)) == ("II", "I", "I")
    assert _named(session, "Mauremys reevesii").listed_by("CN")
    assert not _named(session, "Mauremys reevesii").listed_by("KR")
    assert _named(session, "Psittacus erithacus").listed_on == date(1981, 6, 6)
    # Every Appendix III species names its listing State; unknown dates stay unknown.
    rows = session.query(Species).all()
    assert all(s.listing_countries for s in rows if s.appendix == "III")
    assert _named(session, "Python regius").listed_on is None
    # Loading again changes nothing, populations included.
    again = reference.load_curated_species(operator)
    assert again["updated"] == 0


@pytest.mark.parametrize(
    "text, refused",
    [("BW NA:II; IN:I", False), ("BW NA", True), ("BW NA:IV", True), ("XQ:II", True), ("", False)],
)
def test_populations_are_written_countries_then_appendix(text, refused):
    if refused:
        with pytest.raises(ValueError):
            reference.parse_populations("Testus", text)
    else:
        assert reference.parse_populations("Testus", text) == ([("BW NA", "II"), ("IN", "I")] if text else [])


def test_the_administrator_corrects_the_listing(client, login, world, session):
    login(world.users["admin"])
    form = {
        "name_en": "Grey parrot",
        "name_ko": "",
        "appendix": "I",
        "national_category_code": "",
        "annotation": "",
        "listed_on": "1981-06-06",
        "listing_countries": "",
        "distribution": "cm ga",
        "populations": "GH:II",
    }
    assert client.post(f"/admin/species/{world.parrot}", data=form).status_code == 302
    session.expire_all()
    parrot = session.get(Species, world.parrot)
    assert (parrot.listed_on, parrot.distribution, parrot.appendix_for("GH")) == (date(1981, 6, 6), "CM GA", "II")
    page = client.get(f"/admin/species/{world.parrot}").get_data(as_text=True)
    assert 'value="GH:II"' in page
    with pytest.raises(ValidationFailed) as refused:
        admin.correct_species(world.operator, world.parrot, {"populations": "GH"})
    assert "populations" in refused.value.fields
