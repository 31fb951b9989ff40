"""The Appendix I sequence at the border (Art. III, issue #14): the import permit was issued
first, without the exporting country's permit; customs clears the goods only once it records
that permit, seen with the consignment, on the permit and in the foreign-document ledger."""

from datetime import timedelta

import pytest

from registry import clock
from registry.models import ForeignDocumentUse, Permit
from registry.services.errors import ValidationFailed
from tests import uses
from tests.helpers import issued_permit

ENTRY = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 1", "lines": [{"line_no": 1, "quantity": "1"}]}


def _issued_first(world) -> Permit:
    return issued_permit(world, foreign_permit_no=None, foreign_permit_date=None)


def test_entry_refused_until_customs_records_the_export_permit(world, session):
    permit = _issued_first(world)
    with pytest.raises(ValidationFailed) as refused:
        uses.endorse(world.actor("customs"), permit.id, ENTRY)
    assert set(refused.value.fields) == {"foreign_permit_no", "foreign_permit_date"}
    session.expire_all()
    assert session.get(Permit, permit.id).state == "issued"
    uses.endorse(
        world.actor("customs"),
        permit.id,
        ENTRY | {"foreign_permit_no": "za-e-55", "foreign_permit_date": clock.today().isoformat()},
    )
    session.expire_all()
    entered = session.get(Permit, permit.id)
    assert (entered.state, entered.foreign_permit_no, entered.foreign_permit_date) == (
        "partly_used",
        "ZA-E-55",
        clock.today(),
    )
    use = session.query(ForeignDocumentUse).filter_by(permit_id=permit.id).one()
    assert (use.country, use.document_no, use.cleared) == ("ZA", "ZA-E-55", 1)


def test_goods_refused_at_entry_need_no_export_permit(world, session):
    permit = _issued_first(world)
    refused = ENTRY | {"lines": [{"line_no": 1, "quantity": "1", "outcome": "refused"}]}
    assert uses.endorse(world.actor("customs"), permit.id, refused).id


def test_a_different_export_permit_than_the_one_quoted_is_refused(world, session):
    permit = issued_permit(world, foreign_permit_no="ZA-Q-1")
    with pytest.raises(ValidationFailed) as refused:
        uses.endorse(world.actor("customs"), permit.id, ENTRY | {"foreign_permit_no": "ZA-Q-2"})
    assert "ZA-Q-1" in refused.value.fields["foreign_permit_no"]


def test_the_customs_page_and_the_api_take_the_export_permit(client, login, world, session, api):
    permit = _issued_first(world)
    login(world.users["customs"])
    form = {"port": "Incheon", "transport_doc": "AWB 5", "lines-0-quantity": "1", "lines-0-outcome": "cleared"}
    page = client.get(f"/customs/permits/{permit.id}/endorse").get_data(as_text=True)
    assert 'name="foreign_permit_no"' in page
    refused = client.post(f"/customs/permits/{permit.id}/endorse", data=form)
    assert refused.status_code == 200 and 'id="foreign_permit_no-err"' in refused.get_data(as_text=True)
    typed = form | {"foreign_permit_no": "ZA-W-1", "foreign_permit_date": clock.today().isoformat()}
    assert client.post(f"/customs/permits/{permit.id}/endorse", data=typed).status_code == 302
    other = _issued_first(world)
    answer = api("customs", "POST", f"/permits/{other.id}/endorsements", ENTRY)
    assert answer.status_code == 422 and "foreign_permit_no" in answer.json["errors"]
    body = ENTRY | {"foreign_permit_no": "ZA-W-2", "foreign_permit_date": clock.today().isoformat()}
    assert api("customs", "POST", f"/permits/{other.id}/endorsements", body).status_code == 201
    session.expire_all()
    assert session.get(Permit, other.id).foreign_permit_no == "ZA-W-2"


def test_the_printed_permit_stays_as_issued_after_customs_records_its_export_permit(world, session):
    """Its fingerprint at issue stays the served file's: the export permit learned at the border is
    on the record (ledger, XML, report), not printed into a document that was issued without it."""
    from registry import pdf
    from registry.models import AuditEntry
    from registry.services import documents

    permit = issued_permit(world, foreign_permit_no=None, foreign_permit_date=None)
    issued = session.query(AuditEntry).filter_by(action="permit.issue", object_id=str(permit.id)).one()
    entry = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 1", "lines": [{"line_no": 1, "quantity": "1"}]}
    uses.endorse(
        world.actor("customs"),
        permit.id,
        entry | {"foreign_permit_no": "ZA-E-55", "foreign_permit_date": clock.today().isoformat()},
    )
    session.expire_all()
    learned = session.get(Permit, permit.id)
    assert (learned.foreign_permit_no, learned.foreign_permit_learned_on) == ("ZA-E-55", clock.today())
    assert issued.after["pdf_sha256"] == pdf.sha256(documents.permit_pdf(learned))


def test_an_export_permit_dated_before_the_import_permit_is_refused_at_entry(world, session):
    """Art. III.2(d): the exporting country grants its permit only once the import permit exists."""
    permit = issued_permit(world, foreign_permit_no=None, foreign_permit_date=None)
    entry = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 1", "lines": [{"line_no": 1, "quantity": "1"}]}
    before = (clock.today() - timedelta(days=1)).isoformat()
    with pytest.raises(ValidationFailed) as caught:
        uses.endorse(
            world.actor("customs"), permit.id, entry | {"foreign_permit_no": "ZA-E-56", "foreign_permit_date": before}
        )
    assert "Art. III.2(d)" in caught.value.fields["foreign_permit_date"]
    session.expire_all()
    assert session.get(Permit, permit.id).foreign_permit_no is None
