"""Paths that bring an animal or a permit into each state through the services."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import redis

from registry import clock
from registry.extensions import db
from registry.models import Permit
from tests import uses


def issued_permit(w, **overrides) -> Permit:
    from tests.conftest import import_application

    p = uses.create_application(w.actor("zoo"), import_application(w, **overrides))
    uses.permit_event(w.actor("zoo"), p.id, "submit")
    uses.permit_event(w.actor("officer"), p.id, "approve")
    return uses.permit_event(w.actor("officer2"), p.id, "issue")


def export_permit(w) -> Permit:
    p = uses.create_application(
        w.actor("officer"),
        {
            "doc_type": "export",
            "applicant_party_id": w.zoo,
            "importer_party_id": w.exporter,
            "exporter_party_id": w.zoo,
            "import_country": "ZA",
            "export_country": "KR",
            "purpose_code": "T",
            "source_code": "C",
            "foreign_permit_no": "ZA-IMP-1",
            "foreign_permit_date": "2025-01-02",
            "lines": [{"species_id": w.parrot, "term_code": "LIV", "quantity": "5"}],
        },
    )
    uses.permit_event(w.actor("officer"), p.id, "submit")
    uses.permit_event(w.actor("officer2"), p.id, "approve")
    return uses.permit_event(w.actor("officer3"), p.id, "issue")


def declared_animal(w, chip: str | None = None, permit: Permit | None = None):
    permit = permit or issued_permit(w)
    ids = [{"kind": "microchip", "value": chip}] if chip else []
    return uses.declare(w.operator, permit.lines[0].id, {"sex": "F", "identifiers": ids})


#: The events that lead from a fresh declaration to each state, with a payload each.
def payload(w, event: str) -> dict:
    return {
        "enter": {"port": "ICN"},
        "refuse_entry": {"reason": "no export permit"},
        "void": {"reason": "permit cancelled"},
        "register": {"facility_id": w.zoo_site},
        "transfer": {"owner_party_id": w.breeder, "facility_id": w.breeder_site},
        "death": {"cause": "old age"},
        "dispose": {"method": "burial", "handler": "zoo", "place": "zoo grounds", "witness": "vet"},
        "export": {"permit_id": None},  # filled in by the caller
        "report_missing": {"circumstances": "escaped"},
        "recover": {"facility_id": w.zoo_site},
        "declare_dead": {"reason": "not found in a year"},
        "seize": {"facility_id": w.rescue, "reason": "illegal keeping"},
        "return": {"facility_id": w.zoo_site},
        "forfeit": {},
        "approve_donation": {"recipient": "National Science Museum"},
    }[event]


ANIMAL_PATHS = {
    "declared": [],
    "entered": ["enter"],
    "in_captivity": ["enter", "register"],
    "missing": ["enter", "register", "report_missing"],
    "seized": ["enter", "register", "seize"],
    "dead": ["enter", "register", "death"],
    "disposed": ["enter", "register", "death", "dispose"],
    "exported": ["enter", "register", "export"],
    "void": ["void"],
}


def animal_in(w, state: str, export_permit_id: int | None = None, chip: str | None = None):
    animal = declared_animal(w, chip)
    for event in ANIMAL_PATHS[state]:
        data = payload(w, event)
        if event == "export":
            data = {"permit_id": export_permit_id}
        animal = uses.fire(w.operator, animal.id, event, data)
    assert animal.state == state
    return animal


def endorse_entry(w, permit: Permit, quantity: int) -> Permit:
    """Customs clears *quantity* parrots of line 1 at entry (declaring the animals that arrive)."""
    uses.endorse(
        w.actor("customs"),
        permit.id,
        {
            "direction": "entry",
            "port": "ICN",
            "transport_doc": "AWB 1",
            "lines": [{"line_no": 1, "quantity": quantity}],
        },
    )
    return db.session.get(Permit, permit.id)


def after_validity(permit: Permit):
    """The clock on the first day past the permit's validity (where its ``expire`` event is allowed)."""
    return clock.on(permit.valid_until + timedelta(days=1))


def expired(w, permit: Permit) -> Permit:
    """Time runs out, and the permit's ``expire`` event fires (as ``registry permits expire`` does)."""
    with after_validity(permit):
        uses.permit_event(w.actor("officer"), permit.id, "expire")
    return db.session.get(Permit, permit.id)


def permit_in(w, state: str) -> Permit:
    """An import permit for 3 parrots, brought to *state* by the use cases, customs' included."""
    from tests.conftest import import_application

    zoo, officer, officer2 = w.actor("zoo"), w.actor("officer"), w.actor("officer2")
    p = uses.create_application(zoo, import_application(w))
    steps = {
        "draft": [],
        "submitted": ["submit"],
        "changes_requested": ["submit", "request_changes"],
        "approved": ["submit", "approve"],
        "refused": ["submit", "refuse"],
        "withdrawn": ["withdraw"],
        "issued": ["submit", "approve", "issue"],
        "cancelled": ["submit", "approve", "issue", "cancel"],
    }
    after_issue = {"partly_used": "issued", "used": "issued", "closed": "issued", "expired": "issued"}
    for event in steps[after_issue.get(state, state)]:
        # Four eyes: the officer who approved does not issue.
        actor = zoo if event in ("submit", "withdraw") else officer2 if event == "issue" else officer
        p = uses.permit_event(actor, p.id, event, {"reason": "because"})
    if state == "partly_used":
        p = endorse_entry(w, p, 1)
    elif state in ("used", "closed"):
        p = endorse_entry(w, p, 3)
        if state == "closed":
            p = uses.permit_event(officer, p.id, "close")
    elif state == "expired":
        p = expired(w, p)
    assert p.state == state
    return p


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis of the test's own on a free port (its URL), stopped afterwards: nothing shared is flushed."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (apt-get install redis-server)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)
