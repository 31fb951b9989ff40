"""Administration from the web: accounts and reference data, each change audited."""

from registry.models import AuditEntry, DeadlineSetting, Species, User
from registry.services import deadlines
from tests import uses
from tests.helpers import animal_in


def test_admin_changes_a_keepers_link_and_role_and_disables(client, login, world, session):
    login(world.users["admin"])
    target = world.users["breeder"]
    client.post(f"/admin/users/{target.id}", data={"display_name": "Kim M.", "role": "auditor", "party_id": ""})
    session.expire_all()
    user = session.get(User, target.id)
    assert (user.role, user.display_name) == ("auditor", "Kim M.")
    change = session.query(AuditEntry).filter_by(action="user.update").one()
    assert change.before["role"] == "keeper" and change.after["role"] == "auditor"
    refused = client.post(f"/admin/users/{target.id}", data={"display_name": "x", "role": "keeper", "party_id": ""})
    assert "a keeper must be linked" in refused.get_data(as_text=True)
    client.post(f"/admin/users/{target.id}/password", data={"password": "a brand new password"})
    client.post(f"/admin/users/{target.id}/disable", data={})
    session.expire_all()
    assert not session.get(User, target.id).is_enabled
    assert {
        e.action
        for e in session.query(AuditEntry).filter(
            AuditEntry.object_id == str(target.id), AuditEntry.object_type == "user"
        )
    } >= {"user.update", "user.set_password", "user.disable"}
    login(world.users["officer"])
    assert client.get(f"/admin/users/{target.id}").status_code == 403


def test_species_correction_and_deadline_days(client, login, world, session):
    login(world.users["admin"])
    client.post(
        f"/admin/species/{world.parrot}",
        data={
            "name_en": "Grey parrot",
            "name_ko": "회색앵무",
            "appendix": "I",
            "national_category_code": "",
            "annotation": "",
        },
    )
    session.expire_all()
    assert session.get(Species, world.parrot).name_ko == "회색앵무"
    dead = animal_in(world, "in_captivity")

    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    client.post("/admin/deadlines", data={"code": "carcass_disposal", "days": "0"})
    assert session.get(DeadlineSetting, "carcass_disposal").days == 0
    item = next(i for i in deadlines.items(world.actor("officer")) if i.rule.code == "carcass_disposal")
    assert item.due == item.starts
    assert session.query(AuditEntry).filter_by(action="deadline.update").one().after == {"days": 0}
