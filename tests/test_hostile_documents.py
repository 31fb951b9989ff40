"""Hostile text in everything a permit prints: the PDF is still a whole PDF, and draws no file of the server's.

The permit is drawn with drawString (text, never markup); the audit report's Paragraphs escape what
they show (tests/test_hostile_input.py). This holds the permit to the same.
"""

from hypothesis import assume, given

from registry.services import documents
from registry.services.errors import DomainError
from tests import fuzzing, hostile, uses
from tests.conftest import import_application


def test_a_permit_prints_whatever_text_it_holds(app, session, world):
    printed = []

    @fuzzing.FAST
    @given(description=hostile.short_text(), conditions=hostile.short_text())
    def run(description, conditions):
        assume("\x00" not in description + conditions)  # refused at the door (400)
        line = {"species_id": world.parrot, "term_code": "LIV", "quantity": "1", "description": description}
        try:
            permit = uses.create_application(world.actor("zoo"), import_application(world, lines=[line]))
            uses.permit_event(world.actor("zoo"), permit.id, "submit")
            uses.permit_event(world.actor("officer"), permit.id, "approve")
            permit = uses.permit_event(world.actor("officer2"), permit.id, "issue", {"special_conditions": conditions})
        except DomainError:
            assume(False)  # refused in words: the forms and API tests check how
        pdf = documents.permit_pdf(permit)
        assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
        assert b"/Subtype /Image" not in pdf
        printed.append(permit.id)

    run()
    assert printed  # not every example refused before it reached the PDF


def test_stored_formulas_leave_every_csv_export_as_text(app, client, login, session, world):
    # The values come from the database here, not the query string (tests/test_hostile_queries.py).
    from registry import clock
    from registry.services import reference
    from tests.helpers import endorse_entry

    formulas = iter(hostile.FORMULAS * 2)
    party = reference.create_party(world.operator, "organisation", next(formulas), country="ZA")
    for formula in hostile.FORMULAS[:3]:
        line = {"species_id": world.parrot, "term_code": "LIV", "quantity": "1", "description": formula}
        data = import_application(world, lines=[line], exporter_party_id=party.id, foreign_permit_no=formula)
        permit = uses.create_application(world.actor("zoo"), data)
        uses.permit_event(world.actor("zoo"), permit.id, "submit")
        uses.permit_event(world.actor("officer"), permit.id, "approve")
        permit = uses.permit_event(world.actor("officer2"), permit.id, "issue", {"special_conditions": formula})
        endorse_entry(world, permit, 1)
    login(world.users["officer"])
    year = clock.today().year
    for path in (f"/reports/annual.csv?year={year}&direction=import", "/deadlines/export.csv"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.mimetype == "text/csv", path
        fuzzing.assert_well_formed_file(answer)
    login(world.users["auditor"])
    answer = fuzzing.audit_export(client, "csv")
    assert answer.status_code == 200
    fuzzing.assert_well_formed_file(answer)
    assert "'=1+1" in client.get(f"/reports/annual.csv?year={year}&direction=import").get_data(as_text=True)
