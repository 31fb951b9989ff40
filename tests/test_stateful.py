"""Random sequences of use cases, by random actors (hostile ones included), against the real services.

The machine drives declarations, births, animal events, two-party transfers, customs endorsements
at entry and exit, marks and capacity changes, each as a random role: officers, customs, the
auditor, and the two keepers, who also act on each other's animals, offers and facilities.

After every step:

- a refused step raised a DomainError and changed nothing (the database reads the same);
- a successful step wrote exactly one audit entry per change it committed (``audited_changes``),
  and no other;
- ``invariants(session, entries)`` holds: the domain's rules read from the tables themselves.

Each example starts from the same world (the ``world`` fixture) inside a savepoint that its
teardown rolls back, so a failing example replays alone.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import text

from registry.extensions import db
from registry.machines import ANIMAL, TRANSFER
from registry.models import PermitLine
from registry.permissions import has_capability
from registry.services import audit
from registry.services.errors import DomainError, Forbidden
from registry.services.facilities import OCCUPYING
from registry.services.reconcile import reconcile
from tests import uses
from tests.helpers import animal_in, export_permit, issued_permit, payload

#: Keepers and officers more often than the rest: they have the most to do (and to try).
ROLES = ["officer", "officer", "customs", "zoo", "zoo", "breeder", "breeder", "auditor"]
EVENTS = [e for e in ANIMAL.events if e not in ("declare", "birth")]
ANSWERS = ["accept", "decline", "cancel", "acknowledge"]
#: A few microchip numbers, so that the same chip is typed twice now and then.
CHIPS = [str(900_000_000_000_000 + i) for i in range(4)]
maybe_chip = st.none() | st.sampled_from(CHIPS)


# ---------------------------------------------------------------- the invariants


def _rows(session, sql: str, **params) -> list:
    return list(session.execute(text(sql), params).all())


def invariants(session, entries: int) -> None:
    """The domain's invariants, as one statement about the database (SQL, not the services).

    1. Keeping: every animal has an owner; it has a holder iff it has a facility, and then the
       facility's holder is its holder. Owner/holder periods (``keeping``, ``until`` NULL) agree
       with the row: at most one open owner period, for ``owner_party_id``, and exactly one once
       the animal has ever been placed (a declared or entered animal has none yet: periods start
       at registration, seizure or birth); one open holder period iff ``holder_party_id`` is set,
       for that party and facility.
    2. Capacity: no facility keeps more animals of a species (in captivity or seized) than its
       allowance for the species (none: zero).
    3. Permits: no permit line has more cleared endorsed quantity than it permits, and no permit
       has more animals of a species exported on it than its live lines of the species permit.
    4. Marks: no microchip is active on two animals; every identifier belongs to an animal.
    5. Timelines: each animal's events chain from a creating event (declare or birth), every
       (from_state, event) pair is declared by the animal machine with that target, and the
       last event's target is the animal's state.
    6. Transfers: every transfer's state is one of the machine's; an animal is in at most one
       pending offer, and a pending offer's animals are still in captivity, the transferor's, and
       kept as offered (else the event that changed them cancelled it).
    7. Audit: the log holds exactly *entries* entries and its hash chain verifies.
    8. Reconciliation: replaying the log gives the tables as they are (``registry audit reconcile``).
    """
    # 1. keeping
    assert not _rows(session, "SELECT id FROM animal WHERE owner_party_id IS NULL")
    assert not _rows(session, "SELECT id FROM animal WHERE (holder_party_id IS NULL) <> (facility_id IS NULL)")
    assert not _rows(
        session,
        """SELECT a.id FROM animal a JOIN facility f ON f.id = a.facility_id
           WHERE f.holder_party_id <> a.holder_party_id""",
    )
    open_periods = {}
    for animal_id, relation, party_id, facility_id in _rows(
        session, "SELECT animal_id, relation, party_id, facility_id FROM keeping WHERE until IS NULL"
    ):
        open_periods.setdefault((animal_id, relation), []).append((party_id, facility_id))
    placed = {r[0] for r in _rows(session, "SELECT DISTINCT animal_id FROM keeping WHERE relation = 'holder'")}
    for animal_id, owner, holder, facility in _rows(
        session, "SELECT id, owner_party_id, holder_party_id, facility_id FROM animal"
    ):
        owners = open_periods.get((animal_id, "owner"), [])
        assert owners == [(owner, None)] or (not owners and animal_id not in placed), (animal_id, owner, owners)
        holders = open_periods.get((animal_id, "holder"), [])
        assert holders == ([(holder, facility)] if holder is not None else []), (animal_id, holder, holders)

    # 2. capacity
    states = ", ".join(f"'{s}'" for s in OCCUPYING)
    assert not _rows(
        session,
        f"""SELECT a.facility_id, a.species_id, COUNT(*) FROM animal a
            LEFT JOIN facility_species fs ON fs.facility_id = a.facility_id AND fs.species_id = a.species_id
            WHERE a.state IN ({states}) GROUP BY a.facility_id, a.species_id, fs.capacity
            HAVING COUNT(*) > COALESCE(fs.capacity, 0)""",
    )

    # 3. permits
    assert not _rows(
        session,
        """SELECT l.id FROM permit_line l JOIN endorsed_line e ON e.line_id = l.id AND e.outcome = 'cleared'
           GROUP BY l.id, l.quantity HAVING SUM(e.quantity) > l.quantity""",
    )
    assert not _rows(
        session,
        """SELECT e.permit_id, a.species_id FROM animal_event e JOIN animal a ON a.id = e.animal_id
           WHERE e.event = 'export' GROUP BY e.permit_id, a.species_id
           HAVING COUNT(*) > (SELECT COALESCE(SUM(l.quantity), 0) FROM permit_line l WHERE l.permit_id = e.permit_id
                              AND l.species_id = a.species_id AND l.term_code = 'LIV')""",
    )

    # 4. marks
    assert not _rows(
        session,
        """SELECT value FROM identifier WHERE kind = 'microchip' AND active
           GROUP BY value HAVING COUNT(DISTINCT animal_id) > 1""",
    )
    assert not _rows(
        session, "SELECT i.id FROM identifier i LEFT JOIN animal a ON a.id = i.animal_id WHERE a.id IS NULL"
    )

    # 5. timelines
    timelines: dict[int, list] = {}
    for animal_id, event, from_state, to_state in _rows(
        session, "SELECT animal_id, event, from_state, to_state FROM animal_event ORDER BY id"
    ):
        timelines.setdefault(animal_id, []).append((event, from_state, to_state))
    for animal_id, state in _rows(session, "SELECT id, state FROM animal"):
        steps = timelines.get(animal_id, [])
        assert steps and steps[0][0] in ("declare", "birth"), (animal_id, steps)
        reached = None
        for event, from_state, to_state in steps:
            assert from_state == reached, (animal_id, steps)
            assert ANIMAL.rejection(from_state, event) is None, (animal_id, from_state, event)
            assert to_state == ANIMAL.transitions[event].target, (animal_id, event, to_state)
            reached = to_state
        assert reached == state, (animal_id, state, steps)

    # 6. transfers
    assert {r[0] for r in _rows(session, "SELECT DISTINCT state FROM transfer")} <= set(TRANSFER.states)
    pending = _rows(
        session,
        """SELECT t.id, t.transferor_party_id, ta.animal_id, a.state, a.owner_party_id, a.holder_party_id,
                  a.facility_id, ta.offered_holder_party_id, ta.offered_facility_id
           FROM transfer t JOIN transfer_animal ta ON ta.transfer_id = t.id JOIN animal a ON a.id = ta.animal_id
           WHERE t.state = 'pending'""",
    )
    in_offers = Counter(r[2] for r in pending)
    assert all(n == 1 for n in in_offers.values()), in_offers
    for t_id, transferor, animal_id, state, owner, holder, facility, offered_holder, offered_facility in pending:
        assert (state, owner, holder, facility) == ("in_captivity", transferor, offered_holder, offered_facility), (
            t_id,
            animal_id,
        )

    # 7. audit
    assert _rows(session, "SELECT COUNT(*) FROM audit_entry")[0][0] == entries
    verdict = audit.verify_database()
    assert verdict.ok, verdict

    # 8. reconciliation
    differences = [str(d) for d in reconcile()]
    assert not differences, differences


# ---------------------------------------------------------------- what changed, what was audited

#: Per table, the query whose rows are that table's content (the first column identifies a row).
_TABLES = {
    "animal": "SELECT id, state, owner_party_id, holder_party_id, facility_id, version FROM animal",
    "animal_event": "SELECT id, animal_id FROM animal_event",
    "keeping": "SELECT id, animal_id, relation, party_id, facility_id, until FROM keeping",
    "identifier": "SELECT id, animal_id, kind, value, active FROM identifier",
    "transfer": "SELECT id, state, version FROM transfer",
    "transfer_animal": "SELECT transfer_id, animal_id FROM transfer_animal",
    "permit": "SELECT id, state, version FROM permit",
    "endorsement": "SELECT id, permit_id FROM endorsement",
    "endorsed_line": "SELECT id, line_id, quantity, outcome FROM endorsed_line",
    "facility": "SELECT id, status, version FROM facility",
    "facility_species": "SELECT facility_id, species_id, capacity FROM facility_species",
    "audit_entry": "SELECT seq, action, object_type, object_id FROM audit_entry",
}


def snapshot(session) -> dict[str, dict]:
    return {table: {tuple(r)[0:2] if table.endswith(("_animal", "_species")) else r[0]: tuple(r)
                    for r in _rows(session, sql)} for table, sql in _TABLES.items()}  # fmt: skip


def audited_changes(before: dict, after: dict) -> Counter:
    """The audit entries a committed step owes, as (object_type, object_id) -> count, from what changed:
    one per timeline event of an animal (its declaration or birth, and each event); one per transfer
    created or changed; one per permit changed or endorsed; one per facility whose row or allowances
    changed; one per mark put on an animal or retired (marks given with a new animal, and marks
    freed by an event, included: each mark is a row of its own)."""
    owed: Counter = Counter()

    def new(table):
        return [row for key, row in after[table].items() if key not in before[table]]

    def changed(table):
        return [key for key, row in after[table].items() if before[table].get(key) != row]

    for _id, animal_id in new("animal_event"):
        owed["animal", str(animal_id)] += 1
    for key in changed("transfer"):
        owed["transfer", str(key)] += 1
    for permit_id in set(changed("permit")) | {row[1] for row in new("endorsement")}:
        owed["permit", str(permit_id)] += 1
    allowances = {key[0] for key in set(before["facility_species"]) ^ set(after["facility_species"])}
    allowances |= {key[0] for key in changed("facility_species")}
    for facility_id in set(changed("facility")) | allowances:
        owed["facility", str(facility_id)] += 1
    for key in changed("identifier"):
        # A mark put on an animal declared at the border and freed by its refusal, in one step: two entries.
        created_and_freed = key not in before["identifier"] and not after["identifier"][key][4]
        owed["identifier", str(key)] += 2 if created_and_freed else 1
    return owed


# ---------------------------------------------------------------- the machine


@pytest.mark.slow
def test_random_use_case_sequences(world, session):
    actors = {name: world.actor(name) for name in world.users}
    world.actor = actors.__getitem__  # the user rows are gone after an example's rollback; actors stay
    connection = session.get_bind()
    sites = {"zoo_site": world.zoo_site, "breeder_site": world.breeder_site, "rescue": world.rescue}
    parties = {"zoo": world.zoo, "breeder": world.breeder}

    class Registry(RuleBasedStateMachine):
        """What exists: animal ids, transfer ids, two import permits of the zoo, one export permit."""

        # ------------------------------------------------------------ setup and teardown

        @initialize()
        def setup(self):
            session.close()
            self.savepoint = connection.begin_nested()
            self.imports = [issued_permit(world).id for _ in range(2)]
            self.export = export_permit(world).id
            self.animals = [animal_in(world, "in_captivity").id for _ in range(2)]
            self.transfers: list[int] = []
            self.entries = _rows(session, "SELECT COUNT(*) FROM audit_entry")[0][0]

        def teardown(self):
            session.close()
            if getattr(self, "savepoint", None) is not None and self.savepoint.is_active:
                self.savepoint.rollback()

        # ------------------------------------------------------------ one step

        def attempt(self, call, capability: str | None = None):
            """Run one use case. Refused: a DomainError, and nothing changed. Done: one audit entry per
            committed change (``audited_changes``) and none other. Returns the result, or None when refused."""
            before = snapshot(session)
            try:
                result = call()
            except DomainError as exc:
                session.rollback()
                assert snapshot(session) == before, f"refused ({exc!r}) but changed the database"
                if capability is not None and not has_capability(self.actor, capability):
                    assert isinstance(exc, Forbidden), exc
                return None
            session.rollback()
            after = snapshot(session)
            entries = [row for seq, row in after["audit_entry"].items() if seq not in before["audit_entry"]]
            assert entries, "a use case succeeded without an audit entry"
            written = Counter((row[2], row[3]) for row in entries)
            assert written == audited_changes(before, after), ([row[1:] for row in entries], after)
            if capability is not None:
                assert has_capability(self.actor, capability), f"{self.actor.role} did {capability}"
            self.entries += len(entries)
            return result

        def pick(self, items: list, index: int):
            return items[index % len(items)]

        def keeper_sees(self, animal_id: int) -> bool:
            owner, holder = _rows(
                session, "SELECT owner_party_id, holder_party_id FROM animal WHERE id = :i", i=animal_id
            )[0]
            return self.actor.party_id in (owner, holder)

        def animal(self, animal_id: int):
            return _rows(
                session,
                "SELECT state, owner_party_id, holder_party_id, facility_id FROM animal WHERE id = :i",
                i=animal_id,
            )[0]

        # ------------------------------------------------------------ arrivals

        @rule(role=st.sampled_from(ROLES), permit=st.integers(0, 1), chip=maybe_chip)
        def declare(self, role, permit, chip):
            self.actor = actors[role]
            line = session.query(PermitLine).filter_by(permit_id=self.imports[permit]).one().id
            marks = [{"kind": "microchip", "value": chip}] if chip else []
            done = self.attempt(
                lambda: uses.declare(self.actor, line, {"sex": "F", "identifiers": marks}), "animal.declare"
            )
            if role == "breeder":
                assert done is None  # the zoo's permit is not the breeder's
            if done is not None:
                self.animals.append(done.id)

        @precondition(lambda self: len(self.animals) < 12)
        @rule(
            role=st.sampled_from(ROLES),
            site=st.sampled_from(sorted(sites)),
            dam=st.none() | st.integers(0, 11),
            sire=st.none() | st.integers(0, 11),
            chip=maybe_chip,
        )
        def register_birth(self, role, site, dam, sire, chip):
            self.actor = actors[role]
            data = {
                "species_id": world.parrot,
                "facility_id": sites[site],
                "birth_date": date.today().isoformat(),
                "dam_id": None if dam is None else self.pick(self.animals, dam),
                "sire_id": None if sire is None else self.pick(self.animals, sire),
                "identifiers": [{"kind": "microchip", "value": chip}] if chip else [],
            }
            done = self.attempt(lambda: uses.register_birth(self.actor, data), "animal.birth")
            if done is not None:
                if self.actor.party_id is not None:
                    holder = _rows(session, "SELECT holder_party_id FROM facility WHERE id = :i", i=sites[site])[0][0]
                    assert holder == self.actor.party_id, "a keeper reported a birth in another keeper's facility"
                self.animals.append(done.id)

        # ------------------------------------------------------------ animal events

        @rule(
            index=st.integers(0, 11),
            event=st.sampled_from(EVENTS),
            role=st.sampled_from(ROLES),
            site=st.sampled_from(sorted(sites)),
            owner=st.none() | st.sampled_from(sorted(parties)),
            data=st.data(),
        )
        def fire(self, index, event, role, site, owner, data):
            self.actor = actors[role]
            animal_id = self.pick(self.animals, index)
            state, _owner, holder, _facility = self.animal(animal_id)
            legal = [t.event for t in ANIMAL.available(state) if t.event in EVENTS]
            if legal and data.draw(st.integers(0, 3), label="legal event") > 0:
                event = data.draw(st.sampled_from(legal), label="event")
            fields = payload(world, event)
            if "facility_id" in fields:
                fields["facility_id"] = sites[site]
            if event == "transfer":
                fields["owner_party_id"] = parties[owner] if owner else None
            if event == "export":
                fields["permit_id"] = self.export
            hostile = self.actor.party_id is not None and not self.keeper_sees(animal_id)
            done = self.attempt(
                lambda: uses.fire(self.actor, animal_id, event, fields), ANIMAL.transitions[event].capability
            )
            if hostile:
                assert done is None, f"{role} did {event} on an animal it neither owns nor holds"
            if done is not None:
                assert ANIMAL.rejection(state, event) is None
                if self.actor.party_id is not None and event in ("death", "dispose", "report_missing", "recover"):
                    assert holder == self.actor.party_id, f"{role} did {event} on an animal it does not hold"

        @rule(role=st.sampled_from(ROLES), index=st.integers(0, 11), chip=st.sampled_from(CHIPS))
        def add_identifier(self, role, index, chip):
            self.actor = actors[role]
            animal_id = self.pick(self.animals, index)
            hostile = self.actor.party_id is not None and not self.keeper_sees(animal_id)
            done = self.attempt(
                lambda: uses.add_identifier(self.actor, animal_id, "microchip", chip), "animal.identify"
            )
            assert not (hostile and done is not None), "a keeper marked another keeper's animal"

        # ------------------------------------------------------------ transfers

        @rule(
            role=st.sampled_from(ROLES),
            first=st.integers(0, 11),
            second=st.none() | st.integers(0, 11),
            site=st.sampled_from(sorted(sites)),
            ownership=st.booleans(),
            data=st.data(),
        )
        def offer(self, role, first, second, site, ownership, data):
            self.actor = actors[role]
            pool = self.animals
            kept_here = [a for a in self.animals if self.animal(a)[0] == "in_captivity"]
            if kept_here and data.draw(st.integers(0, 3), label="in captivity") > 0:
                pool = kept_here
            ids = sorted({self.pick(pool, i) for i in (first, second) if i is not None})
            kept = [self.animal(i) for i in ids]
            data = {"animal_ids": ids, "facility_id": sites[site], "ownership": ownership}
            done = self.attempt(lambda: uses.offer(self.actor, data), "transfer.start")
            if done is not None:
                self.transfers.append(done.id)
                if self.actor.party_id is not None:
                    assert all(k[1] == k[2] == self.actor.party_id for k in kept), (
                        "offered what it does not own and hold"
                    )
                assert all(k[0] == "in_captivity" for k in kept)

        @precondition(lambda self: self.transfers)
        @rule(
            role=st.sampled_from(ROLES),
            index=st.integers(0, 7),
            event=st.sampled_from(ANSWERS),
            by_code=st.booleans(),
        )
        def answer(self, role, index, event, by_code):
            self.actor = actors[role]
            transfer_id = self.pick(self.transfers, index)
            (state, code, transferor, transferee) = _rows(
                session,
                "SELECT state, code, transferor_party_id, transferee_party_id FROM transfer WHERE id = :i",
                i=transfer_id,
            )[0]
            if by_code and event in ("accept", "decline"):
                call = lambda: uses.transfer_event(self.actor, event, code=code)  # noqa: E731
            else:
                call = lambda: uses.transfer_event(self.actor, event, transfer_id)  # noqa: E731
            done = self.attempt(call, TRANSFER.transitions[event].capability)
            if done is not None:
                assert TRANSFER.rejection(state, event) is None
                if self.actor.party_id is not None:
                    side = transferor if event == "cancel" else transferee
                    assert side == self.actor.party_id, f"{role} did {event} on someone else's transfer"

        # ------------------------------------------------------------ the border

        @rule(
            role=st.sampled_from(["customs", "customs", "officer", "zoo"]),
            permit=st.integers(0, 1),
            quantity=st.integers(1, 3),
            outcome=st.sampled_from(["cleared", "cleared", "refused", "seized"]),
            chips=st.lists(st.sampled_from(CHIPS), max_size=2, unique=True),
        )
        def endorse_entry(self, role, permit, quantity, outcome, chips):
            self.actor = actors[role]
            permit_id = self.imports[permit]
            described = [{"identifiers": [{"kind": "microchip", "value": c}]} for c in chips[:quantity]]
            line = {"line_no": 1, "quantity": quantity, "outcome": outcome, "reason": "test", "animals": described}
            data = {"direction": "entry", "port": "ICN", "transport_doc": "AWB 1", "lines": [line]}
            if outcome == "seized":
                data["seizure_facility_id"] = world.rescue
            known = set(self.animals)
            done = self.attempt(lambda: uses.endorse(self.actor, permit_id, data), "permit.endorse")
            if done is not None:
                for chip in chips[:quantity]:  # no chip typed at the border is lost
                    assert _rows(
                        session,
                        """SELECT i.id FROM identifier i JOIN animal a ON a.id = i.animal_id
                           JOIN permit_line l ON l.id = a.permit_line_id
                           WHERE l.permit_id = :p AND i.kind = 'microchip' AND i.value = :c""",
                        p=permit_id,
                        c=chip,
                    ), f"chip {chip} typed at the border is on no animal of the permit"
                for (animal_id,) in _rows(session, "SELECT id FROM animal ORDER BY id"):
                    if animal_id not in known:
                        self.animals.append(animal_id)

        @rule(role=st.sampled_from(["customs", "customs", "zoo"]), first=st.integers(0, 11), second=st.integers(0, 11))
        def endorse_exit(self, role, first, second):
            self.actor = actors[role]
            ids = sorted({self.pick(self.animals, first), self.pick(self.animals, second)})
            line = {"line_no": 1, "quantity": len(ids), "animal_ids": ids}
            data = {"direction": "exit", "port": "ICN", "transport_doc": "AWB 2", "lines": [line]}
            self.attempt(lambda: uses.endorse(self.actor, self.export, data), "permit.endorse")

        # ------------------------------------------------------------ facilities

        @rule(
            role=st.sampled_from(["officer", "officer", "zoo", "auditor"]),
            site=st.sampled_from(sorted(sites)),
            species=st.sampled_from(["parrot", "python"]),
            capacity=st.integers(0, 3),
        )
        def change_capacity(self, role, site, species, capacity):
            self.actor = actors[role]
            facility_id, species_id = sites[site], getattr(world, species)
            current = dict(
                _rows(
                    session, "SELECT species_id, capacity FROM facility_species WHERE facility_id = :f", f=facility_id
                )
            )
            allowances = dict(current)
            if capacity:
                allowances[species_id] = capacity
            else:
                allowances.pop(species_id, None)
            if not allowances or allowances == current:
                return  # an empty list is refused by its schema; the same allowances change nothing
            self.attempt(
                lambda: uses.facility_event(self.actor, facility_id, "change_capacity", {"allowances": allowances}),
                "facility.manage",
            )

        # ------------------------------------------------------------ after every step

        @invariant()
        def hold(self):
            if hasattr(self, "entries"):
                invariants(session, self.entries)
                session.rollback()

    Registry.TestCase.settings = settings(
        # 30 x 35 keeps CI near 35 s (SQLite) and 55 s (PostgreSQL); hunt longer with the variable.
        max_examples=int(os.environ.get("REGISTRY_STATEFUL_EXAMPLES", "30")),
        stateful_step_count=35,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run = Registry.TestCase("runTest")
    result = run.defaultTestResult()
    run.run(result)
    assert not result.errors and not result.failures, (result.errors + result.failures)[0][1]
    db.session.rollback()
