"""What the HTTP benchmark asks for: an officer's session cookie and API token, and the ids to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

from sqlalchemy import select

from bench import transitions
from bench.serving import CONNECTIONS
from bench.target import Target


@dataclass
class Plan:
    animal_id: int
    reads: dict[str, tuple[str, dict[str, str]]]
    api_headers: dict[str, str]
    writers: list[int] = field(default_factory=list)

    def event_bodies(self, i: int):
        """Thread *i* flips its own animal between missing and recovered, as a keeper's office would."""
        path = f"/api/v1/animals/{self.writers[i]}/events"
        for n in count():
            yield path, ({"event": "recover"} if n % 2 else {"event": "report_missing", "circumstances": "benchmark"})

    @staticmethod
    def insert_bodies(_i: int):
        for n in count():
            yield "/row", {"note": f"benchmark {n}"}


def prepare(target: Target) -> Plan:
    from registry import create_app
    from registry.extensions import db
    from registry.machines.permit import PermitState
    from registry.models import Animal, Permit, User
    from registry.permissions import Actor
    from registry.services import sessions, tokens

    app = create_app(target.config(), check_start=False)
    with app.app_context(), app.test_request_context():
        officer = db.session.scalars(select(User).where(User.username == "officer")).one()
        row, key = sessions.new_session(officer, second_factor=True, client_addr="127.0.0.1", user_agent="bench")
        db.session.add(row)
        db.session.commit()
        token = tokens.create_token(Actor.system("bench"), officer.id, "bench", days=1)[1]
        serializer = app.session_interface.get_signing_serializer(app)
        cookie = serializer.dumps({"_user_id": officer.get_id(), "_fresh": True, "sid": key})
        animal_id = db.session.scalar(select(Animal.id).order_by(Animal.id.desc()).limit(1))
        number, secret = db.session.execute(
            select(Permit.number, Permit.security_token)
            .where(Permit.state == PermitState.ISSUED)
            .order_by(Permit.id.desc())
            .limit(1)
        ).one()
        name = app.config["SESSION_COOKIE_NAME"]
    web = {"Cookie": f"{name}={cookie}"}
    api = {"Authorization": f"Bearer {token}"}
    return Plan(
        animal_id=animal_id,
        reads={
            "animal page": (f"/animals/{animal_id}", web),
            "API GET animal": (f"/api/v1/animals/{animal_id}", api),
            "animals list page": ("/animals/", web),
            "permits list page": ("/permits/", web),
            "API animals list (50)": ("/api/v1/animals?limit=50", api),
            "public verification page": (f"/verify/{number}?t={secret}", {}),
        },
        api_headers=api,
        writers=transitions.pick_animals(target, CONNECTIONS),
    )
