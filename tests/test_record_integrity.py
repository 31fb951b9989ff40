"""Record integrity on the application paths: who is named on a permit, who decides, who withdraws,
and the ledger of foreign documents that stops one foreign permit from covering two shipments."""

import importlib.util
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from registry.models import AuditEntry, ForeignDocumentUse, Inspection, Permit, Transfer
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.conftest import import_application
from tests.helpers import animal_in, endorse_entry, permit_in


def counts(session) -> tuple[int, int]:
    return session.scalar(select(func.count(AuditEntry.seq))), session.scalar(select(func.count(Permit.id)))


# ---------------------------------------------------------------- 1. who is named on the permit


def test_keeper_cannot_name_another_keeper_as_importer_through_the_api(api, world, session):
    before = counts(session)
    body = import_application(world, importer_party_id=world.breeder)
    response = api("zoo", "POST", "/permits", body)
    assert response.status_code == 422, response.get_json()
    assert "importer_party_id" in response.get_json()["errors"]
    assert counts(session) == before


def test_keeper_names_own_party_as_exporter_of_an_export(world, session):
    before = counts(session)
    data = import_application(
        world,
        doc_type="export",
        importer_party_id=world.exporter,
        exporter_party_id=world.breeder,
        import_country="ZA",
        export_country="KR",
    )
    with pytest.raises(ValidationFailed) as refused:
        uses.create_application(world.actor("zoo"), data)
    assert "exporter_party_id" in refused.value.fields
    assert counts(session) == before
    ok = uses.create_application(world.actor("zoo"), data | {"exporter_party_id": world.zoo})
    assert ok.exporter_party_id == world.zoo


def test_foreign_side_must_be_a_foreign_party(world, session):
    before = counts(session)
    with pytest.raises(ValidationFailed) as refused:  # an import "from" a domestic keeper
        uses.create_application(
            world.actor("officer"),
            import_application(world, exporter_party_id=world.breeder) | {"applicant_party_id": world.zoo},
        )
    assert "exporter_party_id" in refused.value.fields
    export = import_application(
        world,
        doc_type="export",
        importer_party_id=world.breeder,
        exporter_party_id=world.zoo,
        import_country="ZA",
        export_country="KR",
    )
    with pytest.raises(ValidationFailed) as refused:
        uses.create_application(world.actor("zoo"), export)
    assert "importer_party_id" in refused.value.fields
    assert counts(session) == before


def test_keeper_editing_cannot_move_the_importer(world, session):
    p = uses.create_application(world.actor("zoo"), import_application(world))
    before = counts(session)
    with pytest.raises(ValidationFailed) as refused:
        uses.update_application(world.actor("zoo"), p.id, import_application(world, importer_party_id=world.breeder))
    assert "importer_party_id" in refused.value.fields
    assert counts(session) == before
    assert session.get(Permit, p.id).importer_party_id == world.zoo


# ---------------------------------------------------------------- 3. approver is not issuer


def test_the_officer_who_approved_does_not_issue(world, session):
    p = permit_in(world, "approved")  # approved by "officer"
    assert p.approved_by_id == world.users["officer"].id
    before = counts(session)
    with pytest.raises(Conflict, match="approved"):
        uses.permit_event(world.actor("officer"), p.id, "issue")
    assert counts(session) == before
    assert session.get(Permit, p.id).state == "approved"
    assert uses.permit_event(world.actor("officer2"), p.id, "issue").state == "issued"


# ---------------------------------------------------------------- 4. who withdraws


def test_an_officer_cannot_withdraw_a_keepers_application(api, world, session):
    p = permit_in(world, "submitted")
    before = counts(session)
    response = api("officer", "POST", f"/permits/{p.id}/actions/withdraw", {})
    assert response.status_code == 409, response.get_json()
    assert counts(session) == before
    assert session.get(Permit, p.id).state == "submitted"
    assert uses.permit_event(world.actor("zoo"), p.id, "withdraw").state == "withdrawn"


def test_another_keeper_cannot_withdraw_and_a_drafting_officer_may(world, session):
    drafted = uses.create_application(world.actor("officer"), import_application(world, applicant_party_id=world.zoo))
    with pytest.raises(Conflict, match="applicant"):
        uses.permit_event(world.actor("officer2"), drafted.id, "withdraw")
    assert uses.permit_event(world.actor("officer"), drafted.id, "withdraw").state == "withdrawn"


# ---------------------------------------------------------------- 2. the ledger of foreign documents


def _submitted(world, **overrides) -> Permit:
    """An import application citing ZA's permit ZA-1 unless told otherwise."""
    p = uses.create_application(
        world.actor("zoo"), import_application(world, **({"foreign_permit_no": "ZA-1"} | overrides))
    )
    return uses.permit_event(world.actor("zoo"), p.id, "submit")


def _issue(world, permit_id: int, **data) -> Permit:
    uses.permit_event(world.actor("officer"), permit_id, "approve")
    return uses.permit_event(world.actor("officer2"), permit_id, "issue", data)


def test_second_use_of_a_foreign_document_is_flagged_and_refused_at_issue(api, world, session):
    first = _submitted(world, foreign_permit_no="ZA-1")
    assert first.foreign_document_warning is None
    second = _submitted(world, foreign_permit_no=" za-1 ")  # the same document, typed differently
    assert "ZA-1" in second.foreign_document_warning
    shown = api("officer", "GET", f"/permits/{second.id}").get_json()
    assert "ZA-1" in shown["foreign_document_warning"]
    page = api("officer", "GET", f"/permits/{first.id}").get_json()
    assert "application #" in page["foreign_document_warning"]  # the earlier one is flagged too
    assert api("zoo", "GET", f"/permits/{first.id}").get_json()["foreign_document_warning"] is None
    _issue(world, first.id)
    uses.permit_event(world.actor("officer"), second.id, "approve")
    before = counts(session)
    response = api("officer2", "POST", f"/permits/{second.id}/actions/issue", {})
    assert response.status_code == 409, response.get_json()
    assert "foreign_permit_no" in response.get_json()["errors"]
    assert counts(session) == before
    assert session.get(Permit, second.id).state == "approved"


def test_an_officer_overrides_the_ledger_with_a_reason(world, session):
    from registry.models import ForeignDocumentUse

    first = _submitted(world)
    _issue(world, first.id)
    second = _submitted(world)
    issued = _issue(world, second.id, override_reason="ZA authority confirmed two shipments on one permit")
    assert issued.state == "issued"
    use = session.scalar(select(ForeignDocumentUse).where(ForeignDocumentUse.permit_id == second.id))
    assert use.override_reason.startswith("ZA authority")
    assert use.overridden_by_id == world.users["officer2"].id
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry.action == "permit.issue"
    assert "ZA authority" in str(entry.after)


def test_a_withdrawn_application_frees_its_foreign_document(world, session):
    first = _submitted(world)
    uses.permit_event(world.actor("zoo"), first.id, "withdraw")
    second = _submitted(world)
    assert second.foreign_document_warning is None
    assert _issue(world, second.id).state == "issued"


def test_the_border_refuses_a_foreign_document_used_up_elsewhere(world, session):
    from tests.helpers import endorse_entry

    first = _submitted(world)
    _issue(world, first.id)
    second = _submitted(world)
    _issue(world, second.id, override_reason="two consignments confirmed")
    endorse_entry(world, session.get(Permit, first.id), 1)
    before = counts(session)
    entry = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 2", "lines": [{"line_no": 1, "quantity": 1}]}
    with pytest.raises(Conflict) as refused:
        uses.endorse(world.actor("customs"), second.id, entry)
    assert "foreign_permit_no" in refused.value.fields
    assert counts(session) == before
    assert session.get(Permit, second.id).state == "issued"
    done = uses.endorse(world.actor("customs"), second.id, entry | {"override_reason": "checked with ZA CITES office"})
    assert done.permit.state == "partly_used"


def test_the_permit_page_warns_and_the_issue_form_overrides(client, login, world, session):
    first = _submitted(world)
    _issue(world, first.id)
    second = _submitted(world)
    uses.permit_event(world.actor("officer"), second.id, "approve")
    login(world.users["officer2"])
    page = client.get(f"/permits/{second.id}").get_data(as_text=True)
    assert "Foreign document used elsewhere" in page and 'name="override_reason"' in page
    refused = client.post(f"/permits/{second.id}/actions/issue", data={}, follow_redirects=True)
    assert "already used on permit" in refused.get_data(as_text=True)
    assert session.get(Permit, second.id).state == "approved"
    client.post(f"/permits/{second.id}/actions/issue", data={"override_reason": "confirmed by ZA"})
    session.expire_all()
    assert session.get(Permit, second.id).state == "issued"
    login(world.users["zoo"])
    assert "Foreign document used elsewhere" not in client.get(f"/permits/{second.id}").get_data(as_text=True)


def test_the_earlier_application_is_flagged_too(world, session):
    first = _submitted(world)
    _submitted(world)
    session.expire_all()
    assert "ZA-1" in session.get(Permit, first.id).foreign_document_warning


def test_customs_overrides_a_used_foreign_document_from_the_page(client, login, world, session):
    from tests.helpers import endorse_entry

    first = _submitted(world)
    _issue(world, first.id)
    second = _submitted(world)
    _issue(world, second.id, override_reason="two consignments confirmed")
    endorse_entry(world, session.get(Permit, first.id), 1)
    login(world.users["customs"])
    form = {"port": "ICN", "transport_doc": "AWB 3", "lines-0-quantity": "1", "lines-0-outcome": "cleared"}
    refused = client.post(f"/customs/permits/{second.id}/endorse", data=form)
    assert refused.status_code == 200 and 'name="override_reason"' in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Permit, second.id).state == "issued"
    done = client.post(
        f"/customs/permits/{second.id}/endorse", data=form | {"override_reason": "checked with the ZA CITES office"}
    )
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Permit, second.id).state == "partly_used"


def _seen_version(page: str) -> str:
    versions = set(re.findall(r'name="version" type="hidden" value="(\d+)"', page))
    assert len(versions) == 1, versions  # every action form on the page carries the version shown
    return versions.pop()


def test_a_facility_page_loaded_before_a_change_cannot_act_on_it(client, login, world, session):
    login(world.users["officer"])
    seen = _seen_version(client.get(f"/facilities/{world.breeder_site}").get_data(as_text=True))
    uses.facility_event(
        world.actor("officer2"), world.breeder_site, "change_capacity", {"allowances": {world.parrot: 9}}
    )
    stale = {"version": seen, "result": "passed", "findings": "all well", "inspected_on": "2026-11-01"}
    page = client.post(f"/facilities/{world.breeder_site}/inspect", data=stale, follow_redirects=True)
    assert "changed" in page.get_data(as_text=True)
    assert session.scalar(select(func.count(Inspection.id))) == 0
    fresh = dict(stale, version=_seen_version(client.get(f"/facilities/{world.breeder_site}").get_data(as_text=True)))
    client.post(f"/facilities/{world.breeder_site}/inspect", data=fresh)
    assert session.scalar(select(func.count(Inspection.id))) == 1


def test_a_transfer_page_sends_the_version_it_showed(client, login, world, session):
    bird = animal_in(world, "in_captivity")
    t = uses.offer(world.actor("zoo"), {"animal_ids": [bird.id], "facility_id": world.breeder_site})
    login(world.users["breeder"])
    seen = _seen_version(client.get(f"/transfers/{t.id}").get_data(as_text=True))
    session.execute(update(Transfer).where(Transfer.id == t.id).values(version=Transfer.version + 1))
    page = client.post(f"/transfers/{t.id}/accept", data={"version": seen}, follow_redirects=True)
    assert "changed" in page.get_data(as_text=True)
    assert session.get(Transfer, t.id).state == "pending"


def _ledger_backfill():
    path = next(
        (Path(__file__).parent.parent / "migrations" / "versions").glob("*_foreign_document_ledger_backfill.py")
    )
    spec = importlib.util.spec_from_file_location("ledger_backfill", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backfill


def test_permits_older_than_the_ledger_are_written_into_it(world, session):
    """A permit issued before the ledger existed had no row: its foreign document was invisible to
    the second-use checks. The migration gives it the row the application would have written."""
    first = _issue(world, _submitted(world, foreign_permit_no="za 77 1").id)
    endorse_entry(world, first, 2)
    session.execute(text("DELETE FROM foreign_document_use"))  # as the database stood before the ledger
    assert _ledger_backfill()(session.connection()) == 1
    use = session.scalar(select(ForeignDocumentUse))
    assert (use.permit_id, use.country, use.document_no, use.quantity, use.cleared) == (
        first.id,
        "ZA",
        "ZA771",
        Decimal(3),
        Decimal(2),
    )
    assert _ledger_backfill()(session.connection()) == 0  # once
    # The older permit now counts: a second application on its document is flagged.
    second = _submitted(world, foreign_permit_no="ZA771")
    assert first.display_number in second.foreign_document_warning
