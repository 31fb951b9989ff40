"""Today's date, as the services see it.

One function instead of ``date.today()`` scattered about, so the demo loader can replay a history
that began in the past (a permit issued last year, expired now) through the ordinary services.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from datetime import UTC, date, datetime

_offset: contextvars.ContextVar[date | None] = contextvars.ContextVar("registry_clock_offset", default=None)


def today() -> date:
    travelled = _offset.get()
    return travelled if travelled is not None else date.today()


def now() -> datetime:
    """The current UTC time; on a replayed day, that day at the current time of day."""
    real = datetime.now(UTC)
    travelled = _offset.get()
    return real if travelled is None else datetime.combine(travelled, real.timetz())


@contextmanager
def on(day: date):
    """Act as if today were *day* (for replaying history; never used on a live request)."""
    token = _offset.set(day)
    try:
        yield
    finally:
        _offset.reset(token)
