"""Box 6 and box 13: a permit is issued by the issuing officer's regional office and signed by
them by name and title (issue #14); an officer without an office cannot issue."""

import pytest

from registry.cli import create_user
from registry.models import Permit, User
from registry.services import admin
from registry.services.errors import Conflict, ValidationFailed
from tests import uses
from tests.conftest import import_application


def _approved(world):
    permit = uses.create_application(world.actor("officer"), import_application(world, applicant_party_id=world.zoo))
    uses.permit_event(world.actor("officer"), permit.id, "submit")
    uses.permit_event(world.actor("officer2"), permit.id, "approve")
    return permit


def test_issue_names_the_officers_office_and_signatory(world, session):
    permit = _approved(world)
    issued = uses.permit_event(world.actor("officer3"), permit.id, "issue")
    assert (issued.issuing_office, issued.signatory_name, issued.signatory_title) == (
        "han-river",
        world.users["officer3"].display_name,
        "CITES permit officer",
    )


def test_an_officer_without_an_office_cannot_issue(world, session):
    permit = _approved(world)
    officer = world.users["officer3"]
    admin.update_user(world.operator, officer.id, officer.role, None, officer.display_name, None)
    with pytest.raises(Conflict) as refused:
        uses.permit_event(world.actor("officer3"), permit.id, "issue")
    assert "office" in refused.value.fields["issuing_office"]
    session.expire_all()
    assert (session.get(Permit, permit.id).state, session.get(Permit, permit.id).number) == ("approved", None)


def test_the_administrator_assigns_an_office(client, login, world, session):
    login(world.users["admin"])
    target = world.users["officer2"]
    form = {"display_name": "Park Officer", "role": "ministry_officer", "party_id": "", "office_code": "wonju"}
    client.post(f"/admin/users/{target.id}", data=form)
    session.expire_all()
    assert session.get(User, target.id).office_code == "wonju"
    with pytest.raises(ValidationFailed) as refused:
        admin.update_user(world.operator, target.id, "ministry_officer", None, "Park", "atlantis")
    assert "office_code" in refused.value.fields


def test_users_create_with_an_office_from_the_command_line(app, session, world):
    result = app.test_cli_runner().invoke(
        create_user,
        ["officer9", "--role", "ministry_officer", "--office", "daegu", "--password-stdin"],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    assert session.query(User).filter_by(username="officer9").one().office_code == "daegu"
