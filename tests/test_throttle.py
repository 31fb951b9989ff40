"""Login throttling: growing delays and a temporary lockout per account and per address, every
refusal audited, a notice at the next login; counted in memory, or in Redis shared by every server.

Time is the throttle's clock, moved by the tests: nothing here waits.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from registry import create_app, throttle
from registry.models import AuditEntry
from tests.conftest import PASSWORD
from tests.helpers import redis_server


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttle, "clock", fake)
    return fake


def attempt(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def actions(session, name: str) -> list[AuditEntry]:
    return session.query(AuditEntry).filter_by(action=name).order_by(AuditEntry.seq).all()


def test_thirty_wrong_passwords_then_the_right_one_is_refused(client, world, session, clock):
    for _ in range(30):
        attempt(client, "admin", "not the password")
    page = attempt(client, "admin", PASSWORD)
    assert page.status_code == 429 and "Try again in" in page.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in
    # Three free failures, then the fourth starts a wait; attempts during the wait are refused
    # unseen (the password is not even checked) and audited.
    assert len(actions(session, "auth.login_failed")) == 4
    assert len(actions(session, "auth.throttled")) == 27
    assert actions(session, "auth.throttled")[0].after == {"bucket": "account", "retry_after": 2, "locked": False}


def test_delays_grow_then_the_account_locks_even_for_the_right_password(app, client, world, session, clock):
    waits = []
    for _ in range(10):
        assert attempt(client, "zoo", "not the password").status_code == 200  # a failure, not a refusal
        with app.app_context():
            refusal = throttle.for_app().refusal("zoo", "127.0.0.1")
        waits.append(refusal.retry_after if refusal else 0)
        if refusal:
            refused = attempt(client, "zoo", PASSWORD)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == str(refusal.retry_after)
        if refusal and not refusal.locked:
            clock.now += refusal.retry_after
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 60, 900]
    locked = actions(session, "auth.locked")
    assert len(locked) == 1 and locked[0].object_id == str(world.users["zoo"].id)
    assert locked[0].after == {"bucket": "account", "failures": 10, "seconds": 900}
    assert "15 minutes" in attempt(client, "zoo", PASSWORD).get_data(as_text=True)
    clock.now += 60
    assert attempt(client, "zoo", PASSWORD).status_code == 429  # still locked, right password or not

    clock.now += 900 - 60
    page = attempt(client, "zoo", PASSWORD)
    assert page.status_code == 302
    notice = client.get(page.headers["Location"]).get_data(as_text=True)
    # 10 failures and the 9 refusals above, and the account was locked.
    assert "since your last login: 19." in notice and "locked for a while" in notice


def test_a_success_resets_the_accounts_count(client, world, session, clock):
    for _ in range(3):
        attempt(client, "zoo", "not the password")
    assert attempt(client, "zoo", PASSWORD).status_code == 302
    assert "since your last login: 3." in client.get("/").get_data(as_text=True)
    client.post("/logout")
    for _ in range(3):
        assert attempt(client, "zoo", "not the password").status_code == 200
    assert attempt(client, "zoo", PASSWORD).status_code == 302  # the count started again at zero
    assert "since your last login: 3." in client.get("/").get_data(as_text=True)  # only the new ones


def test_unknown_names_are_throttled_like_real_ones(client, world, clock):
    for username in ("zoo", "nobody-here"):
        answers = [attempt(client, username, "not the password").status_code for _ in range(5)]
        assert answers == [200, 200, 200, 200, 429]


def test_one_address_spraying_many_accounts_is_stopped(client, world, session, clock):
    for n in range(50):
        attempt(client, f"user{n}", "not the password", address="203.0.113.9")
        clock.now += 60  # every account's own wait has passed; the address's has not
    assert attempt(client, "zoo", PASSWORD, address="203.0.113.9").status_code == 429
    locked = actions(session, "auth.locked")
    assert [(e.object_type, e.object_id, e.after["bucket"]) for e in locked] == [("address", "203.0.113.9", "address")]
    assert attempt(client, "zoo", PASSWORD, address="198.51.100.7").status_code == 302  # others may still


def test_an_ipv6_client_is_counted_by_its_network():
    assert throttle.address_bucket("2001:db8:1:2:aaaa::1") == throttle.address_bucket("2001:db8:1:2:bbbb::9")
    assert throttle.address_bucket("2001:db8:1:3::1") != throttle.address_bucket("2001:db8:1:2::1")
    assert throttle.address_bucket("::ffff:203.0.113.9") == "203.0.113.9"


def test_memory_counters_forget_old_failures():
    counters = throttle.MemoryCounters()
    assert [counters.add_failure("k", 10.0 * n, 900) for n in range(3)] == [1, 2, 3]
    assert counters.read("k") == (3, 20.0)
    assert counters.add_failure("k", 20.0 + 900, 900) == 1
    counters.clear("k")
    assert counters.read("k") == (0, 0.0)


# Redis: a server of the test's own, on a free port, stopped afterwards.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_app(app, redis_url, monkeypatch):
    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    app.extensions.pop("login_throttle", None)
    yield app
    app.extensions.pop("login_throttle", None)


def test_redis_counters_count_atomically_and_forget(redis_url):
    counters = throttle.RedisCounters(redis_url)
    assert [counters.add_failure("k", 10.0 * n, 900) for n in range(3)] == [1, 2, 3]
    assert counters.read("k") == (3, 20.0)
    assert 0 < redis.Redis.from_url(redis_url).ttl("registry:login:k") <= 960  # collected in time
    assert counters.add_failure("k", 20.0 + 900, 900) == 1
    counters.clear("k")
    assert counters.read("k") == (0, 0.0)


def test_logins_are_throttled_through_redis(redis_app, client, world, session, clock):
    with redis_app.app_context():
        assert isinstance(throttle.for_app().counters, throttle.RedisCounters)
    for _ in range(4):
        attempt(client, "zoo", "not the password")
    assert attempt(client, "zoo", PASSWORD).status_code == 429
    assert redis.Redis.from_url(redis_app.config["REDIS_URL"]).hget("registry:login:account:zoo", "count") == b"4"


def test_two_servers_sharing_redis_share_the_counts(redis_url, clock):
    settings = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": redis_url}
    redis.Redis.from_url(redis_url).flushdb()
    first, second = create_app(settings), create_app(settings)
    for _ in range(10):
        with first.app_context():
            throttle.for_app().failed("officer", "192.0.2.1")
    with second.app_context():
        refusal = throttle.for_app().refusal("officer", "192.0.2.50")
    assert refusal is not None and refusal.locked and refusal.bucket == "account"


def test_an_unreachable_redis_refuses_logins_cleanly(app, client, world, session, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{_free_port()}/0")
    app.extensions.pop("login_throttle", None)
    page = attempt(client, "zoo", PASSWORD)
    assert page.status_code == 503 and "not possible just now" in page.get_data(as_text=True)
    assert client.get("/").status_code == 302
    app.extensions.pop("login_throttle", None)


def test_an_operator_unlocks_an_account(app, client, world, session, clock):
    from registry.cli import unlock

    for _ in range(10):
        attempt(client, "zoo", "not the password")
        clock.now += 60
    assert attempt(client, "zoo", PASSWORD).status_code == 429
    runner = app.test_cli_runner()
    assert runner.invoke(unlock, ["nobody"]).exit_code == 2
    result = runner.invoke(unlock, ["ZOO"])
    assert result.exit_code == 0, result.output
    assert session.query(AuditEntry).filter_by(action="auth.unlock", object_id=str(world.users["zoo"].id)).count() == 1
    assert attempt(client, "zoo", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("environment", "storage"),
    [
        ({"REGISTRY_REDIS_URL": "redis://redis.internal:6379/0"}, "redis://redis.internal:6379/0"),
        (
            {
                "REGISTRY_REDIS_URL": "redis://redis.internal:6379/0",
                "REGISTRY_RATELIMIT_STORAGE": "memcached://m:11211",
            },
            "memcached://m:11211",
        ),
        ({}, "memory://"),
    ],
)
def test_the_rate_limits_count_in_the_throttles_redis(environment, storage):
    """Behind a load balancer each server would otherwise give every visitor a limit of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")} | environment
    printed = subprocess.run(
        [sys.executable, "-c", "import config; print(config.Config.RATELIMIT_STORAGE_URI)"],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.strip() == storage
