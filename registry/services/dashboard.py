"""The numbers behind the dashboards: the register as it stands, and the last twelve months."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from registry import clock
from registry.extensions import db
from registry.machines import ANIMAL, PERMIT, AnimalState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
from registry.models import Animal, AnimalEvent, Permit, Species

#: Carcasses should be disposed of within this many days of the death (a deadline rule of thumb).
DISPOSAL_DAYS = 30


def _months(today: date) -> list[str]:
    first = today.replace(day=1)
    months = []
    for _ in range(12):
        months.append(first.strftime("%Y-%m"))
        first = (first - timedelta(days=1)).replace(day=1)
    return months[::-1]


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
    issued = Counter(
        d.strftime("%Y-%m")
        for d in db.session.scalars(select(Permit.valid_from).where(Permit.valid_from >= since))
        if d is not None  # never, given the filter; the column itself is nullable
    )
    events = db.session.execute(
        select(AnimalEvent.event, AnimalEvent.occurred_on).where(
            AnimalEvent.event.in_(("transfer", "death", "declare_dead")), AnimalEvent.occurred_on >= since
        )
    ).all()
    transfers = Counter(d.strftime("%Y-%m") for e, d in events if e == "transfer")
    deaths = Counter(d.strftime("%Y-%m") for e, d in events if e != "transfer")
    waiting = db.session.execute(
        select(Animal, func.max(AnimalEvent.occurred_on))
        .join(AnimalEvent, AnimalEvent.animal_id == Animal.id)
        .where(Animal.state == AnimalState.DEAD, AnimalEvent.to_state == AnimalState.DEAD)
        .group_by(Animal.id)
    ).all()
    overdue = [(a, d) for a, d in waiting if (today - d).days > DISPOSAL_DAYS]
    lapsed = db.session.scalars(
        select(Permit).where(Permit.state.in_(sorted(PERMITS_IN_USE)), Permit.valid_until < today)
    ).all()
    return {
        "animals_by_state": [(ANIMAL.label(s), by_state.get(s.value, 0)) for s in ANIMAL.states],
        "animals_by_species": [(name, n) for name, n in by_species],
        "permits_by_state": [(PERMIT.label(s), permit_states.get(s.value, 0)) for s in PERMIT.states],
        "permits_issued_by_month": [(m, issued.get(m, 0)) for m in months],
        "transfers_by_month": [(m, transfers.get(m, 0)) for m in months],
        "deaths_by_month": [(m, deaths.get(m, 0)) for m in months],
        "overdue_disposals": overdue,
        "lapsed_permits": lapsed,
    }
