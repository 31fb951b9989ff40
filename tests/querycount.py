"""Counting the SQL statements a block of code sends: the tool for tests that a page's or an
endpoint's number of queries does not grow with the number of rows it shows (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine

#: Statements that are the test harness's, not the code under test's (the session fixture's savepoints).
_HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@dataclass
class Statements:
    """What was sent, in order; ``count`` leaves out savepoint bookkeeping."""

    sent: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        return [s for s in self.sent if not s.lstrip().upper().startswith(_HARNESS)]

    @property
    def count(self) -> int:
        return len(self.queries)

    def __str__(self) -> str:
        return "\n".join(f"{n}. {' '.join(s.split())[:200]}" for n, s in enumerate(self.queries, 1))


@contextmanager
def count_statements(engine: Engine) -> Iterator[Statements]:
    """``with count_statements(db.engine) as seen: ...``; then ``seen.count``, ``print(seen)``."""
    seen = Statements()

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        seen.sent.append(statement)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
