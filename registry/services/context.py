"""Who is acting, and the transaction every use case runs in."""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from registry import database
from registry.database import WRITE_OPTION, Fault
from registry.extensions import db
from registry.i18n import _
from registry.services.errors import Conflict, NotFound, Unavailable

log = logging.getLogger(__name__)
_in_write = contextvars.ContextVar("registry_in_write", default=False)


def in_write_transaction() -> bool:
    return _in_write.get()


@contextmanager
def write_transaction():
    """One use case = one transaction: commit on success, roll back everything on any error.

    Any read transaction the caller left open is ended first, so the write
    transaction starts as such (BEGIN IMMEDIATE on SQLite) and rereads what it
    changes. Nested use joins the outer transaction.
    """
    if _in_write.get():
        yield db.session()
        return
    session = db.session()
    if session.in_transaction():
        session.rollback()
    token = _in_write.set(True)
    commits_before = database.commits_sent()
    try:
        session.connection(execution_options={WRITE_OPTION: True})
        yield session
        # The audit chain's one point of order: its lock is held only from here to the commit.
        append_queued_entries(session)
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(_("someone else changed this record at the same time; reload and try again")) from None
    except IntegrityError as exc:
        session.rollback()
        # The database's own words name tables and constraints: log them, do not show them.
        log.warning("integrity error, rolled back: %s", exc.orig)
        raise Conflict(_("the change conflicts with data recorded at the same time; reload and try again")) from None
    except (DBAPIError, DisconnectionError) as exc:
        _rollback(session)
        found = database.fault(exc)
        if found is None:
            raise
        log.warning("database %s, rolled back: %s", found.value, exc.orig if isinstance(exc, DBAPIError) else exc)
        raise unavailable(found, database.commits_sent() > commits_before) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        _in_write.reset(token)


def append_queued_entries(session) -> None:
    from registry.services import audit  # at call time: audit imports this module (a cycle at load)

    audit.append_queued(session)


def _rollback(session) -> None:
    """Roll back; on a connection already lost the rollback may fail too, and changes nothing."""
    try:
        session.rollback()
    except (DBAPIError, DisconnectionError):
        log.warning("rollback failed on a lost connection", exc_info=True)


#: Seconds a client is told to wait (Retry-After) when the database was busy, or out of reach.
RETRY_AFTER = {Fault.BUSY: 2, Fault.UNREACHABLE: 10}


def unavailable(found: Fault, commit_sent: bool = False) -> Unavailable:
    """The 503 for a database fault. "Nothing was saved" only when it is true: a connection lost
    after COMMIT was sent leaves the outcome unknown, and the reader is told to check first."""
    if commit_sent:  # whatever failed after it: what the COMMIT saved stays saved
        message = _(
            "the connection to the database was lost while the change was being saved: it may or may not have "
            "been saved. Check the record before trying again (an API request may be retried with the same "
            "Idempotency-Key)"
        )
    elif found is Fault.BUSY:
        message = _("the registry was busy with other changes to the same records, so nothing was saved; try again")
    else:
        message = _("the registry's database cannot be reached just now, so nothing was saved; try again shortly")
    return Unavailable(message, RETRY_AFTER[found])


#: The one order in which every use case takes its row locks (PostgreSQL; SQLite serialises writers
#: with BEGIN IMMEDIATE). Two transactions that lock the same rows in different orders can each
#: wait for the other: a deadlock. A use case that needs rows of several kinds takes them in this
#: order, rows of one kind by id in one statement (``lock_ids``); one that moves several animals
#: locks them all before the first audit entry. A use case that finds a row through another one (a
#: transfer's animals, an animal's permit) reads the way there first without locking, then locks in
#: order (see docs/architecture.md, Concurrency).
LOCK_ORDER = (
    "permit",  # a permit before the animals it covers (endorsements, exports, entries)
    "animal",  # the animals a use case moves, by id
    "facility",  # the facility they go to (its occupancy is counted under this lock)
    "transfer",  # the transfer being answered, and any pending offer an event makes stale
    "serial_counter",  # the numbers a use case allocates, and other rows of their own (users)
    "audit_head",  # last: at commit (audit.append_queued), held only from that step to the commit
)


def lock(query):
    """Row lock on PostgreSQL; on SQLite, BEGIN IMMEDIATE already serialises writers."""
    return query.with_for_update()


def lock_ids(session, model, ids) -> list:
    """The rows of *model* with *ids*, locked in id order (``LOCK_ORDER``), fresh from the database."""
    if not ids:
        return []
    query = lock(select(model).where(model.id.in_(sorted(set(ids)))).order_by(model.id))
    return list(session.scalars(query.execution_options(populate_existing=True)))


def load_locked(session, actor, machine, model, can_see, where, expected_version: int | None = None):
    """The one object of *model* that *where* picks, row-locked for the transaction.

    It answers NotFound when it does not exist or *can_see(actor, obj)* says no (the two are
    indistinguishable), and Conflict when it changed since the user read *expected_version*.
    The refusals name the record by its lifecycle's noun (*machine*).
    """
    obj = session.execute(lock(select(model).where(where))).scalar_one_or_none()
    if obj is None or (can_see is not None and not can_see(actor, obj)):
        raise NotFound(_("no such %(noun)s", noun=_(machine.noun)))
    if expected_version is not None and obj.version != expected_version:
        raise Conflict(
            _(
                "the %(noun)s was changed by someone else since you opened it; reload and try again",
                noun=_(machine.noun),
            )
        )
    return obj


def changed(obj, state_attribute: str = "state") -> None:
    """Count an action in *obj*'s version even when no column of its own row changed (capacities,
    inspections, marks and endorsements live in other tables): a page read before it is then refused."""
    flag_modified(obj, state_attribute)
