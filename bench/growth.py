"""Every list, search, detail, dashboard, deadline and audit page at two sizes of the registry.

Requests go through the app in-process (Flask's test client, an officer's session), so the
time is the registry's own and the SQL statements each request sends can be counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, func, select

from bench.measure import Sample, timed
from bench.target import Target


@dataclass
class PageRun:
    sample: Sample
    statements: int


def _pages(ids: dict) -> dict[str, str]:
    return {
        "animals list": "/animals/",
        "animal search by microchip": f"/animals/?q={ids['chip']}",
        "animal page": f"/animals/{ids['animal']}",
        "permits list": "/permits/",
        "permit page": f"/permits/{ids['permit']}",
        "facilities list": "/facilities/",
        "facility page": f"/facilities/{ids['facility']}",
        "transfers list": "/transfers/",
        "dashboard": "/dashboard/",
        "deadlines": "/deadlines/",
        "audit log": "/audit/",
        "audit search by animal": f"/audit/?animal={ids['regno']}",
        "API animals list (50)": "/api/v1/animals?limit=50",
        "API animal": f"/api/v1/animals/{ids['animal']}",
        "verification page": f"/verify/{ids['permit_no']}",
    }


def _ids() -> dict:
    from registry.extensions import db
    from registry.machines.permit import PermitState
    from registry.models import Animal, Facility, Identifier, Permit

    # The most recent of each: a record that a busy registry's users open.
    animal = db.session.scalars(
        select(Animal)
        .join(Identifier, Identifier.animal_id == Animal.id)
        .where(Identifier.kind == "microchip")
        .order_by(Animal.id.desc())
    ).first()
    chip = db.session.scalars(
        select(Identifier.value).where(Identifier.animal_id == animal.id, Identifier.kind == "microchip")
    ).first()
    permit = db.session.scalars(
        select(Permit).where(Permit.state == PermitState.ISSUED).order_by(Permit.id.desc())
    ).first()
    return {
        "animal": animal.id,
        "regno": animal.registry_no,
        "chip": chip,
        "permit": permit.id,
        "permit_no": f"{permit.number}?t={permit.security_token}",
        "facility": db.session.scalar(select(func.max(Facility.id))),
    }


def measure(target: Target, seconds: float) -> dict[str, PageRun]:
    from registry import create_app
    from registry.extensions import db
    from registry.models import User
    from registry.permissions import Actor
    from registry.services import sessions, tokens

    app = create_app(target.config(), check_start=False)
    results: dict[str, PageRun] = {}
    with app.app_context():
        officer = db.session.scalars(select(User).where(User.username == "officer")).one()
        row, key = sessions.new_session(officer, second_factor=True, client_addr="127.0.0.1", user_agent="bench")
        db.session.add(row)
        db.session.commit()
        token = tokens.create_token(Actor.system("bench"), officer.id, "bench")[1]
        ids = _ids()
        user_id = officer.get_id()
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as s:
        s.update({"_user_id": user_id, "_fresh": True, "sid": key})
    statements = 0

    def count(*_args, **_kw):
        nonlocal statements
        statements += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for name, path in _pages(ids).items():
            headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}

            def get(path=path, headers=headers, name=name):
                answer = client.get(path, headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {path} answered {answer.status_code}")

            get()  # warm: templates compiled, caches filled
            statements = 0
            get()
            once = statements
            results[name] = PageRun(timed(get, seconds, at_least=5), once)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return results
