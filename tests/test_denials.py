"""Every denial of a logged-in user answers 403 or 404 and is audited once, wherever it is raised:
a view's check, a service's ``permissions.require``, a service's scoped load. Never a redirect with
a message. An anonymous visitor of a web page is sent to the login page (not a denial)."""

from __future__ import annotations

from registry.models import ApiToken, AuditEntry, Transfer
from registry.services import tokens
from tests import uses
from tests.helpers import animal_in


def denials(session) -> list[AuditEntry]:
    return session.query(AuditEntry).filter_by(action="access.denied").order_by(AuditEntry.seq).all()


def offered(world) -> Transfer:
    bird = animal_in(world, "in_captivity").id
    return uses.offer(world.actor("zoo"), {"animal_ids": [bird], "facility_id": world.breeder_site})


def test_a_refusal_raised_in_the_service_is_a_403_and_audited_once(client, login, world, session):
    """The page lets any transfer party in; the service refuses a keeper the authority's acknowledgement."""
    t = offered(world)
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    before = session.query(AuditEntry).count()
    login(world.users["zoo"])
    response = client.post(f"/transfers/{t.id}/acknowledge", data={"version": str(t.version)})
    assert response.status_code == 403
    assert session.get(Transfer, t.id).state == "accepted"
    [entry] = denials(session)
    assert entry.actor_name == "zoo" and entry.after["capability"] == "transfer.acknowledge"
    assert entry.after["status"] == 403 and entry.after["object"] == {"transfer_id": str(t.id), "action": "acknowledge"}
    assert session.query(AuditEntry).count() == before + 1


def test_an_object_outside_ones_scope_found_by_the_service_is_a_404_and_audited(client, login, world, session):
    """Revoking someone else's token: the service cannot find it for this user."""
    token, _secret = tokens.create_token(world.operator, world.users["breeder"].id, "theirs")
    login(world.users["zoo"])
    response = client.post(f"/profile/tokens/{token.id}/revoke", data={})
    assert response.status_code == 404
    assert session.get(ApiToken, token.id).revoked_at is None
    [entry] = denials(session)
    assert (entry.actor_name, entry.after["status"], entry.after["capability"]) == ("zoo", 404, "scope")


def test_a_view_helpers_denial_is_audited_once(client, login, world, session):
    login(world.users["breeder"])
    assert client.get("/admin/users").status_code == 403
    [entry] = denials(session)
    assert entry.after["capability"] == "user.manage" and entry.object_id == "admin.users"


def test_api_denials_are_audited_once(api, world, session):
    assert api("zoo", "GET", "/audit").status_code == 403
    t = offered(world)
    uses.transfer_event(world.actor("breeder"), "accept", t.id)
    response = api("zoo", "POST", f"/transfers/{t.id}/actions/acknowledge", json={})
    assert response.status_code == 403  # raised by the service: the endpoint serves every transfer party
    assert [e.after["status"] for e in denials(session)] == [403, 403]


def test_anonymous_web_visitor_is_sent_to_login_not_audited(client, world, session):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert denials(session) == []


def test_the_denial_outlives_the_refused_requests_rollback(fresh_app):
    """With real commits: the refused work is rolled back, its denial is kept."""
    from registry.extensions import db
    from registry.models.base import utcnow
    from registry.permissions import Actor
    from registry.services import sessions, users

    with fresh_app.app_context():
        operator = Actor.system("tests")
        keeper = users.create_user(operator, "lone", "correct horse battery", "auditor")
        keeper.totp_enrolled_at = utcnow()  # enrolled: the account gate lets it through
        db.session.commit()
        user_id = keeper.get_id()
        key = sessions.start(keeper, second_factor=True, client_addr=None, user_agent="tests")
    client = fresh_app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = user_id
        s["_fresh"] = True
        s["sid"] = key
    assert client.post("/admin/users", data={}).status_code == 403
    with fresh_app.app_context():
        db.session.remove()
        assert db.session.query(AuditEntry).filter_by(action="access.denied").count() == 1


def test_a_404_about_a_routes_object_is_audited_but_not_a_url_that_names_no_route(client, login, world, session):
    login(world.users["admin"])
    assert client.get("/admin/users/999999").status_code == 404  # get_or_404
    assert client.get("/no/such/page").status_code == 404
    [entry] = denials(session)
    assert entry.object_id == "admin.user" and entry.after["object"] == {"user_id": "999999"}
