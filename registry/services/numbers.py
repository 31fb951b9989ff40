"""Gap-free yearly serial numbers, allocated inside the caller's write transaction."""

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from registry.extensions import db
from registry.models import SerialCounter
from registry.services.context import lock


def reserve(name: str, year: int) -> SerialCounter:
    """The year's counter *name*, locked until commit: a use case that allocates numbers after its
    first audit entry takes it before (context.LOCK_ORDER), then allocates under the lock it holds."""
    session = db.session
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Create the year's counter if missing without racing another writer doing the same.
    session.execute(insert(SerialCounter).values(name=name, year=year, value=0).on_conflict_do_nothing())
    return session.execute(
        lock(select(SerialCounter).where(SerialCounter.name == name, SerialCounter.year == year))
    ).scalar_one()


def next_serial(name: str, year: int) -> int:
    counter = reserve(name, year)
    counter.value += 1
    db.session.flush()
    return counter.value


def registry_number(country: str, year: int) -> str:
    return f"{country}-A-{year}-{next_serial('animal', year):06d}"


def permit_number(country: str, year: int) -> str:
    return f"{country}/{year}/{next_serial('permit:' + country, year):06d}"
