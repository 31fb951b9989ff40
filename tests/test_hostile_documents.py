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
