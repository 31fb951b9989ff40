"""Login throttling (ASVS 5.0 6.1.1, 6.3.1): failed password attempts counted per account and per
client address, with growing delays and a temporary lockout.

The rule is in ``LoginThrottle``; where the counts live is a ``Counters`` backend: Redis when
``REDIS_URL`` is set (shared by every worker and server, updated atomically by a Lua script), this
process's memory otherwise. A refusal never sleeps in the worker: it says how long to wait.

Unknown user names are counted exactly like existing ones, so the throttle's answers do not tell
which accounts exist.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from registry.i18n import _
from registry.services.errors import DomainError

#: The current time in seconds; a module attribute so that tests can move it.
clock = time.time
ACCOUNT = "account"
ADDRESS = "address"


class LoginRefused(DomainError):
    """A login attempt refused before the password is looked at; the next may come in ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(LoginRefused):
    """Too many failed attempts for the account or the address (HTTP 429)."""

    status = 429


class CountersUnavailable(LoginRefused):
    """The counters cannot be read (Redis is down): logins are refused rather than left unthrottled."""

    status = 503


@dataclass(frozen=True)
class Refusal:
    bucket: str
    #: The bucket's value: the user name, or the client's address (an IPv6 client's /64 network).
    key: str
    failures: int
    retry_after: int
    locked: bool


class Counters(Protocol):
    def read(self, key: str) -> tuple[int, float]:
        """How many failures are counted under *key*, and when the last was (0, 0.0 when none)."""

    def add_failure(self, key: str, now: float, forget_after: int) -> int:
        """Count one more failure (starting again from one if the last is *forget_after* old); the new count."""

    def clear(self, key: str) -> None: ...


class MemoryCounters:
    """This process's own counts: right for one worker; with several, each counts on its own."""

    #: Past this many keys (an attacker trying many names), forgotten ones are dropped.
    PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def read(self, key: str) -> tuple[int, float]:
        with self._lock:
            return self._counts.get(key, (0, 0.0))

    def add_failure(self, key: str, now: float, forget_after: int) -> int:
        with self._lock:
            count, last = self._counts.get(key, (0, 0.0))
            if now - last >= forget_after:
                count = 0
            self._counts[key] = (count + 1, now)
            if len(self._counts) > self.PRUNE_AT:
                self._counts = {k: v for k, v in self._counts.items() if now - v[1] < forget_after}
            return count + 1

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


#: One failure, atomically: a count older than ARGV[2] seconds starts again; the key's expiry
#: (ARGV[3]) only collects garbage, the age check uses the application's clock (ARGV[1]).
_ADD_FAILURE = """
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if tonumber(ARGV[1]) - last >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return count
"""


class RedisCounters:
    """Counts in Redis, shared by every worker and server that uses the same Redis."""

    PREFIX = "registry:login:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._add = self._redis.register_script(_ADD_FAILURE)

    def read(self, key: str) -> tuple[int, float]:
        count, last = self._redis.hmget(self.PREFIX + key, ["count", "last"])  # type: ignore[misc]
        return (int(count), float(last)) if count is not None and last is not None else (0, 0.0)

    def add_failure(self, key: str, now: float, forget_after: int) -> int:
        return int(self._add(keys=[self.PREFIX + key], args=[repr(now), forget_after, forget_after + 60]))

    def clear(self, key: str) -> None:
        self._redis.delete(self.PREFIX + key)


class LoginThrottle:
    """The rule: after ``free`` failures each further one doubles the wait (2 s, 4 s... at most
    ``max_delay``); ``lock_after`` failures lock for ``lock_seconds``. Refused attempts are not
    counted, so the lock ends ``lock_seconds`` after the last real failure."""

    def __init__(self, counters: Counters, settings: dict) -> None:
        self.counters = counters
        self.settings = settings

    def refusal(self, username: str, address: str | None) -> Refusal | None:
        """Why an attempt now must be refused without looking at the password; None if it may go on."""
        now = clock()
        for bucket, key in self._keys(username, address):
            count, last = self._read(bucket, key, now)
            wait = math.ceil(last + self.delay(bucket, count) - now)
            if count and wait > 0:
                return Refusal(bucket, key, count, wait, count >= self._limits(bucket)["lock_after"])
        return None

    def failed(self, username: str, address: str | None) -> list[Refusal]:
        """Count a failed attempt in both buckets; returns the locks this failure started."""
        now, forget = clock(), self.settings["lock_seconds"]
        locks = []
        for bucket, key in self._keys(username, address):
            count = self._call(self.counters.add_failure, f"{bucket}:{key}", now, forget)
            if count == self._limits(bucket)["lock_after"]:
                locks.append(Refusal(bucket, key, count, forget, True))
        return locks

    def succeeded(self, username: str) -> None:
        """The right password: the account's count starts again (the address's does not)."""
        self._call(self.counters.clear, f"{ACCOUNT}:{username}")

    def delay(self, bucket: str, failures: int) -> int:
        limits = self._limits(bucket)
        if failures >= limits["lock_after"]:
            return self.settings["lock_seconds"]
        if failures <= limits["free"]:
            return 0
        return min(2 ** (failures - limits["free"]), self.settings["max_delay"])

    def _limits(self, bucket: str) -> dict:
        return self.settings[bucket]

    def _read(self, bucket: str, key: str, now: float) -> tuple[int, float]:
        count, last = self._call(self.counters.read, f"{bucket}:{key}")
        return (0, 0.0) if now - last >= self.settings["lock_seconds"] else (count, last)

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [(ACCOUNT, username)]
        if address:
            keys.append((ADDRESS, address_bucket(address)))
        return keys

    @staticmethod
    def _call(method, *args):
        import redis

        try:
            return method(*args)
        except redis.RedisError as exc:
            current_app.logger.error("login throttle: counters unavailable: %s", exc)
            raise CountersUnavailable(_("Logging in is not possible just now. Try again in a minute."), 60) from exc


def address_bucket(address: str) -> str:
    """The client's address; for IPv6 its /64 network, which one subscriber usually holds whole."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


_create_lock = threading.Lock()


def for_app() -> LoginThrottle:
    """The application's throttle, made on first use from ``REDIS_URL`` and ``LOGIN_THROTTLE``."""
    app = current_app
    with _create_lock:
        if "login_throttle" not in app.extensions:
            url = app.config.get("REDIS_URL")
            counters: Counters = RedisCounters(url) if url else MemoryCounters()
            app.extensions["login_throttle"] = LoginThrottle(counters, app.config["LOGIN_THROTTLE"])
    return app.extensions["login_throttle"]


def wait_text(seconds: int) -> str:
    """ "Try again in N seconds", or in minutes for a lock, in the reader's language."""
    if seconds >= 120:
        return _("Too many failed attempts. Try again in %(minutes)s minutes.", minutes=math.ceil(seconds / 60))
    return _("Too many failed attempts. Try again in %(seconds)s seconds.", seconds=max(seconds, 2))
