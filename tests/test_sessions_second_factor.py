"""Sessions the server can end, the second factor for staff roles, and scoped API tokens (issue:
security, "Authentication" and "Sessions")."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select, update

from registry import throttle, totp
from registry.cli import create_token as create_token_cli
from registry.cli import reset_second_factor as reset_cli
from registry.extensions import db
from registry.models import ApiToken, AuditEntry, RecoveryCode, User, UserSession
from registry.models.base import utcnow
from registry.permissions import READ_CAPABILITIES
from registry.services import admin as admin_service
from registry.services import second_factor, sessions, tokens, users
from registry.services.errors import ValidationFailed
from tests.conftest import PASSWORD, TOTP_SECRET, open_session


def _entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()


def _password_step(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def _code(step_offset: int = 0) -> str:
    return pyotp.TOTP(TOTP_SECRET).at((totp.current_step() + step_offset) * totp.STEP)


def _signed_in(client) -> bool:
    answer = client.get("/profile/")
    return answer.status_code == 200


def _cookie(client) -> str:
    return client.get_cookie("session").value


# ---------------------------------------------------------------- sessions end on the server


def test_a_copied_session_cookie_is_dead_after_logout(app, client, world):
    assert _password_step(client, "zoo").status_code == 302
    copied = _cookie(client)
    assert _signed_in(client)
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/profile/").status_code == 302  # to the login page
    ended = db.session.scalars(select(UserSession).where(UserSession.user_id == world.users["zoo"].id)).all()
    assert [(s.ended_reason, s.ended_at is not None) for s in ended] == [("logout", True)]
    assert _entries("auth.logout")[-1].after["reason"] == "logout"


@pytest.mark.parametrize(
    ("username", "idle", "alive"),
    [("officer", 31, False), ("officer", 29, True), ("zoo", 31, True), ("zoo", 121, False)],
)
def test_a_session_ends_after_idling(client, login, world, username, idle, alive):
    login(world.users[username])
    assert _signed_in(client)
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == world.users[username].id)
        .values(last_seen_at=utcnow() - timedelta(minutes=idle))
    )
    db.session.commit()
    assert _signed_in(client) is alive
    if not alive:
        assert _entries("auth.session_end")[-1].after["reason"] == "idle"


def test_a_session_ends_twelve_hours_after_login_however_busy(client, login, world):
    login(world.users["zoo"])
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1)))
    db.session.commit()
    assert not _signed_in(client)
    assert _entries("auth.session_end")[-1].after["reason"] == "expired"


def test_the_session_cookie_is_not_kept_for_a_month(app):
    assert app.permanent_session_lifetime <= timedelta(hours=12)


@pytest.mark.parametrize("change", ["password", "role", "disable", "second_factor"])
def test_an_administrators_change_ends_every_session_of_the_user(app, client, login, world, change):
    login(world.users["customs"])
    other = app.test_client()
    with other.session_transaction() as s:
        s["_user_id"] = world.users["customs"].get_id()
        s["sid"] = open_session(world.users["customs"])
    assert _signed_in(client) and _signed_in(other)
    admin, customs = world.actor("admin"), world.users["customs"].id
    if change == "password":
        users.set_password(admin, customs, "a brand new long passphrase")
    elif change == "role":
        admin_service.update_user(admin, customs, "auditor", None, "Customs")
    elif change == "disable":
        users.set_enabled(admin, customs, False)
    else:
        second_factor.reset(admin, customs)
    assert not _signed_in(client) and not _signed_in(other)
    still_open = sessions.open_sessions(customs)
    assert still_open == []


def test_the_profile_lists_ones_sessions_and_ends_another(app, client, login, world):
    login(world.users["zoo"])
    phone = app.test_client()
    assert _password_step(phone, "zoo").status_code == 302
    page = client.get("/profile/").get_data(as_text=True)
    assert page.count('<form method="post" action="/profile/sessions/') == 1  # not the current one
    mine = sessions.open_sessions(world.users["zoo"].id)
    assert len(mine) == 2
    current = sessions.find(_sid(client))
    other = next(s for s in mine if s.id != current.id)
    assert client.post(f"/profile/sessions/{other.id}/end").status_code == 302
    assert not _signed_in(phone) and _signed_in(client)


def _sid(client) -> str:
    with client.session_transaction() as s:
        return s["sid"]


def test_nobody_ends_another_users_session(client, login, world):
    login(world.users["zoo"])
    theirs = open_session(world.users["breeder"], second_factor=False)
    row = sessions.find(theirs)
    client.post(f"/profile/sessions/{row.id}/end")
    assert sessions.find(theirs).ended_at is None


def test_end_all_signs_out_everywhere_and_revokes_every_token(app, client, login, world):
    secret = tokens.create_token(world.actor("zoo"), world.users["zoo"].id, "script")[1]
    login(world.users["zoo"])
    elsewhere = app.test_client()
    assert _password_step(elsewhere, "zoo").status_code == 302
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/animals", headers=bearer).status_code == 200
    assert client.post("/profile/end-all").status_code == 302
    assert not _signed_in(client) and not _signed_in(elsewhere)
    assert client.get("/api/v1/animals", headers=bearer).status_code == 401


# ---------------------------------------------------------------- the second factor


def test_a_password_alone_does_not_let_an_administrator_in(client, world):
    answer = _password_step(client, "admin")
    assert answer.status_code == 302 and answer.location.endswith("/login/code")
    assert client.get("/admin/users").status_code == 302  # still anonymous
    assert client.post("/login/code", data={"code": _code()}).status_code == 302
    assert client.get("/admin/users").status_code == 200
    assert _entries("auth.second_factor")[-1].after == {"method": "authenticator"}


def test_a_code_is_good_once(app, client, world):
    code = _code()
    _password_step(client, "officer")
    assert client.post("/login/code", data={"code": code}).status_code == 302
    again = app.test_client()
    _password_step(again, "officer")
    answer = again.post("/login/code", data={"code": code})
    assert answer.status_code == 200 and "Wrong or already used code" in answer.get_data(as_text=True)
    assert _entries("auth.second_factor_failed")


def test_wrong_codes_send_one_back_to_the_password(client, world, monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 0.0)  # frozen: the delays below are the throttle's
    _password_step(client, "auditor")
    for wrong in range(4):
        monkeypatch.setattr(throttle, "clock", lambda w=wrong: 1000.0 * (w + 1))  # past any delay
        assert client.post("/login/code", data={"code": "000000"}).status_code == 200
    monkeypatch.setattr(throttle, "clock", lambda: 5000.0)
    answer = client.post("/login/code", data={"code": "000000"})
    assert answer.status_code == 302 and answer.location.endswith("/login")
    assert client.post("/login/code", data={"code": _code()}).location.endswith("/login")  # the step is gone
    assert len(_entries("auth.second_factor_failed")) == 5


def test_wrong_codes_are_throttled_like_wrong_passwords_and_a_password_does_not_clear_them(client, world, monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 1000.0)
    _password_step(client, "auditor")
    for _ in range(3):  # the throttle's free failures
        assert client.post("/login/code", data={"code": "000000"}).status_code == 200
    assert _password_step(client, "auditor").location.endswith("/login/code")  # the password is right...
    assert client.post("/login/code", data={"code": "000000"}).status_code == 200  # ...the 4th wrong code
    refused = client.post("/login/code", data={"code": _code()})  # now even the right code waits
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert _password_step(client, "auditor").status_code == 429  # and the password step too
    assert _entries("auth.throttled")


def test_the_code_step_does_not_wait_forever(client, world, monkeypatch):
    _password_step(client, "customs")
    with client.session_transaction() as s:
        s["pending"] = s["pending"] | {"at": s["pending"]["at"] - 301}
    assert client.post("/login/code", data={"code": _code()}).location.endswith("/login")


def _enrolled_with_codes(world, username: str) -> list[str]:
    """Set *username* up again through the service, as the enrolment page does; returns the codes."""
    user = db.session.get(User, world.users[username].id)
    user.totp_secret = user.totp_enrolled_at = user.totp_last_step = None
    db.session.commit()
    return second_factor.enrol(world.actor(username), TOTP_SECRET, _code(), keep_session=None)


def test_a_recovery_code_stands_in_for_the_phone_once(app, client, world):
    codes = _enrolled_with_codes(world, "customs")
    assert len(codes) == 10 and len(set(codes)) == 10
    _password_step(client, "customs")
    assert client.post("/login/code", data={"code": codes[3].upper()}).status_code == 302
    assert _signed_in(client)
    assert _entries("auth.second_factor")[-1].after == {"method": "recovery_code", "left": 9}
    again = app.test_client()
    _password_step(again, "customs")
    assert again.post("/login/code", data={"code": codes[3]}).status_code == 200
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert not any(c.replace("-", "") in h for c in codes for h in stored)  # only digests are kept


def test_staff_without_a_second_factor_set_one_up_before_anything_else(client, world):
    user = db.session.get(User, world.users["officer"].id)
    user.totp_secret = user.totp_enrolled_at = None
    db.session.commit()
    assert _password_step(client, "officer").location.endswith("/")
    for path in ("/", "/permits/", "/profile/", "/audit/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.location.endswith("/profile/second-factor"), path
    page = client.get("/profile/second-factor").get_data(as_text=True)
    assert "<svg" in page and 'type="text" value=""' in page  # the QR code inline; the code field empty
    with client.session_transaction() as s:
        sealed = s["enrolling"]
    secret = totp.unseal(sealed, client.application.config["SECRET_KEY"])
    assert secret and secret not in sealed  # the cookie does not carry the secret in the clear
    wrong = client.post("/profile/second-factor", data={"code": "123456"})
    assert wrong.status_code == 200 and db.session.get(User, user.id).totp_enrolled_at is None
    right = client.post("/profile/second-factor", data={"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 200 and right.get_data(as_text=True).count('class="secret"') == 10
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored.totp_enrolled_at is not None and secret not in stored.totp_secret  # sealed
    assert totp.unseal(stored.totp_secret, client.application.config["SECRET_KEY"]) == secret
    assert client.get("/permits/").status_code == 200
    assert _entries("user.second_factor_enrol")[-1].object_id == str(user.id)


def test_keepers_may_log_in_with_a_password_alone(client, world):
    assert _password_step(client, "breeder").location.endswith("/")
    assert client.get("/animals/").status_code == 200


def test_an_administrator_resets_a_lost_phone_and_is_audited(app, client, login, world):
    login(world.users["admin"])
    customs = world.users["customs"].id
    assert client.post(f"/admin/users/{customs}/second-factor/reset").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, customs).totp_enrolled_at is None
    entry = _entries("user.second_factor_reset")[-1]
    assert entry.actor_name == "admin" and entry.object_id == str(customs)
    with pytest.raises(Exception, match="another administrator"):
        second_factor.reset(world.actor("admin"), world.users["admin"].id)


def test_the_console_resets_a_second_factor(app, world):
    result = app.test_cli_runner().invoke(reset_cli, ["auditor"])
    assert result.exit_code == 0, result.output
    assert db.session.get(User, world.users["auditor"].id).totp_enrolled_at is None
    assert app.test_cli_runner().invoke(reset_cli, ["nobody"]).exit_code == 2


def test_a_secret_sealed_under_another_key_does_not_open():
    sealed = totp.seal(TOTP_SECRET, "one key of the registry")
    assert totp.unseal(sealed, "one key of the registry") == TOTP_SECRET
    assert totp.unseal(sealed, "another key") is None


# ---------------------------------------------------------------- scoped tokens


def test_a_read_only_token_reads_and_changes_nothing(client, world):
    secret = tokens.create_token(world.operator, world.users["officer"].id, "report", scope=READ_CAPABILITIES)[1]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/permits", headers=bearer).status_code == 200
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    answer = client.post("/api/v1/parties", json={"kind": "person", "name": "X"}, headers=bearer)
    assert answer.status_code == 403 and answer.mimetype == "application/problem+json"
    after = db.session.scalars(select(AuditEntry).where(AuditEntry.seq > before)).all()
    assert [e.action for e in after] == ["access.denied"]


def test_a_token_limited_to_capabilities_uses_only_those(client, world):
    secret = tokens.create_token(world.operator, world.users["officer"].id, "parties", scope=["party.manage"])[1]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.post("/api/v1/parties", json={"kind": "person", "name": "Kim"}, headers=bearer).status_code == 201
    assert client.get("/api/v1/permits", headers=bearer).status_code == 403


def test_a_scope_names_real_capabilities(world):
    with pytest.raises(ValidationFailed) as refused:
        tokens.create_token(world.operator, world.users["zoo"].id, "x", scope=["permit.forge"])
    assert "permit.forge" in refused.value.fields["scope"]


def test_the_profile_makes_read_only_tokens_by_default(client, login, world):
    login(world.users["zoo"])
    client.post("/profile/", data={"name": "spreadsheet", "days": "30", "password": PASSWORD})
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "spreadsheet"))
    assert token.capabilities == READ_CAPABILITIES
    assert (token.expires_at - utcnow()).days in (29, 30)


def test_a_new_token_needs_the_password_typed_again(client, login, world):
    """A copied session cookie must not be enough to mint a credential that outlives it (7.5.1)."""
    login(world.users["zoo"])
    page = client.post("/profile/", data={"name": "thief", "days": "366", "access": "full", "password": "guess"})
    assert page.status_code == 200 and "this is not your current password" in page.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken).where(ApiToken.name == "thief")) is None
    assert _entries("auth.login_failed")[-1].after == {"reason": "wrong current password"}


def test_the_console_makes_a_read_only_token(app, world):
    result = app.test_cli_runner().invoke(create_token_cli, ["auditor", "--read-only", "--name", "nightly"])
    assert result.exit_code == 0, result.output
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "nightly"))
    assert token.capabilities == READ_CAPABILITIES


def test_an_administrator_ends_one_accounts_sessions(app, client, login, world):
    zoo = app.test_client()
    assert _password_step(zoo, "zoo").status_code == 302
    login(world.users["admin"])
    assert "Signed in now in 1 sessions" in client.get(f"/admin/users/{world.users['zoo'].id}").get_data(as_text=True)
    assert client.post(f"/admin/users/{world.users['zoo'].id}/sessions/end").status_code == 302
    assert not _signed_in(zoo) and _signed_in(client)
    assert _entries("auth.session_end")[-1].after["reason"] == "administrator"


def test_the_console_ends_everyones_sessions(app, client, login, world):
    from registry.cli import end_sessions

    login(world.users["zoo"])
    runner = app.test_cli_runner()
    assert runner.invoke(end_sessions, []).exit_code == 2  # neither a name nor --all
    result = runner.invoke(end_sessions, ["--all"])
    assert result.exit_code == 0 and "1 sessions ended" in result.output
    assert not _signed_in(client)


# ---------------------------------------------------------------- review findings


def test_a_role_change_or_a_reset_second_factor_takes_the_api_tokens_with_it(client, world):
    """A keeper's full token must not become a customs officer's without the second factor."""
    zoo = world.users["zoo"]
    secret = tokens.create_token(world.actor("zoo"), zoo.id, "script")[1]
    bearer = {"Authorization": f"Bearer {secret}"}
    admin_service.update_user(world.actor("admin"), zoo.id, "customs_officer", None, "Zoo")
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    customs = world.users["customs"].id
    theirs = tokens.create_token(world.operator, customs, "script")[1]
    second_factor.reset(world.actor("admin"), customs)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {theirs}"}).status_code == 401


def test_a_staff_token_does_nothing_until_its_account_has_a_second_factor(client, world):
    officer = db.session.get(User, world.users["officer"].id)
    secret = tokens.create_token(world.operator, officer.id, "from before the second factor")[1]
    officer.totp_secret = officer.totp_enrolled_at = None
    db.session.commit()
    answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 403 and _entries("access.denied")[-1].after["capability"] == "second_factor.enrol"


def test_disabling_an_account_revokes_its_tokens_for_good(client, world):
    secret = tokens.create_token(world.operator, world.users["zoo"].id, "script")[1]
    users.set_enabled(world.actor("admin"), world.users["zoo"].id, False)
    users.set_enabled(world.actor("admin"), world.users["zoo"].id, True)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_password_without_its_code_is_not_a_login_and_the_owner_hears_of_wrong_codes(app, client, world):
    for _ in range(3):  # someone with the officer's password, but not the phone
        attacker = app.test_client()
        _password_step(attacker, "officer")
        attacker.post("/login/code", data={"code": "000000"})
    assert [e.action for e in _entries("auth.login") if e.object_id == str(world.users["officer"].id)] == []
    assert len(_entries("auth.password_ok")) == 3
    _password_step(client, "officer")
    page = client.post("/login/code", data={"code": _code()}, follow_redirects=True).get_data(as_text=True)
    assert "Failed attempts to log in to your account since your last login: 3" in page
    assert db.session.get(User, world.users["officer"].id).last_login_at is not None


def test_guessing_codes_for_new_recovery_codes_is_throttled_and_audited(client, login, world):
    login(world.users["auditor"])
    for _ in range(4):
        client.post("/profile/recovery-codes", data={"code": "000000"})
    assert len(_entries("auth.second_factor_failed")) == 4
    refused = client.post("/profile/recovery-codes", data={"code": _code()}, follow_redirects=True)
    assert "Try again in" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0  # none were issued


def test_a_name_no_account_has_is_not_kept_verbatim(client, world):
    _password_step(client, "my secret passphrase typed in the wrong box")
    entry = _entries("auth.login_failed")[-1]
    assert "passphrase" not in entry.actor_name and entry.actor_name.startswith("(unknown ")
