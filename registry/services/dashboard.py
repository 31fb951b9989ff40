"""The numbers behind the dashboards: the register as it stands, and the last twelve months."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import String, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from registry import clock
from registry.extensions import db
from registry.machines import ANIMAL, PERMIT, AnimalState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
from registry.models import Animal, AnimalEvent, Permit, Species

#: Carcasses should be disposed of within this many days of the death (a deadline rule of thumb).
DISPOSAL_DAYS = 30


class month_of(FunctionElement):
    """A date's month as ``YYYY-MM``, computed by the database (so months are counted with GROUP BY)."""

    type = String()
    inherit_cache = True


@compiles(month_of)
def _month_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(month_of, "postgresql")
def _month_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


def _per_month(query, column) -> dict[str, int]:
    """{month: count} of *query*'s rows by the month of *column*: counted by the database."""
    month = month_of(column)
    return dict(db.session.execute(query.with_only_columns(month, func.count()).group_by(month)).all())


def _months(today: date) -> list[str]:
    first = today.replace(day=1)
    months = []
    for _ in range(12):
        months.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return months[::-1]


#: How many overdue carcasses and lapsed permits the dashboard names; it counts them all.
LISTED = 20


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def figures() -> dict:
    today = clock.today()
    months = _months(today)
    since = date.fromisoformat(months[0] + "-01")
    by_state = dict(db.session.execute(select(Animal.state, func.count()).group_by(Animal.state)).all())
    by_species = db.session.execute(
        select(Species.scientific_name, func.count())
        .join(Animal, Animal.species_id == Species.id)
        .where(
            Animal.state.in_((AnimalState.ENTERED, AnimalState.IN_CAPTIVITY, AnimalState.SEIZED, AnimalState.MISSING))
        )
        .group_by(Species.scientific_name)
        .order_by(func.count().desc())
        .limit(12)
    ).all()
    permit_states = dict(db.session.execute(select(Permit.state, func.count()).group_by(Permit.state)).all())
    issued = _per_month(select(Permit).where(Permit.valid_from >= since), Permit.valid_from)
    recent = select(AnimalEvent).where(AnimalEvent.occurred_on >= since)  # read by (event, occurred_on)
    transfers = _per_month(recent.where(AnimalEvent.event == "transfer"), AnimalEvent.occurred_on)
    deaths = _per_month(recent.where(AnimalEvent.event.in_(("death", "declare_dead"))), AnimalEvent.occurred_on)
    # Dead animals whose death is older than the disposal days, chosen by the database: how many, and
    # the longest overdue first (a national register has thousands; the deadlines page lists them all).
    died = func.max(AnimalEvent.occurred_on)
    overdue = (
        select(Animal, died)
        .join(AnimalEvent, AnimalEvent.animal_id == Animal.id)
        .where(Animal.state == AnimalState.DEAD, AnimalEvent.to_state == AnimalState.DEAD)
        .group_by(Animal.id)
        .having(died < today - timedelta(days=DISPOSAL_DAYS))
    )
    lapsed = select(Permit).where(Permit.state.in_(sorted(PERMITS_IN_USE)), Permit.valid_until < today)
    return {
        "animals_by_state": [(ANIMAL.label(s), by_state.get(s.value, 0)) for s in ANIMAL.states],
        "animals_by_species": [(name, n) for name, n in by_species],
        "permits_by_state": [(PERMIT.label(s), permit_states.get(s.value, 0)) for s in PERMIT.states],
        "permits_issued_by_month": [(m, issued.get(m, 0)) for m in months],
        "transfers_by_month": [(m, transfers.get(m, 0)) for m in months],
        "deaths_by_month": [(m, deaths.get(m, 0)) for m in months],
        "overdue_disposals": db.session.execute(overdue.order_by(died, Animal.id).limit(LISTED)).all(),
        "overdue_disposals_count": _count(overdue),
        "lapsed_permits": db.session.scalars(lapsed.order_by(Permit.valid_until, Permit.id).limit(LISTED)).all(),
        "lapsed_permits_count": _count(lapsed),
    }
