"""The demo generator (``registry demo --scale N``): a registry of N animals, built fast and still true.

The demo's core (``services.demo``) goes through the use cases; this adds the volume. Each
*consignment* is one story told in a few hundred lines of history: an import permit applied for,
issued and endorsed at the border, its animals declared, entered (some refused or seized) and
placed with a keeper, chicks born to them, then each animal's fate: it stays, is transferred,
dies (and its carcass is disposed of, or not yet), goes missing, is seized, or is exported on a
permit of its own. Other applications stop at each step of the permit workflow.

The stories are replayed here, not through the services (a service call per event would take
hours for 100 000 animals): the rows are the models' own objects, never added to a session, and
written with Core ``executemany`` a batch at a time; every event writes the timeline row, the
owner and holder periods and the audit entry the service would have written, built from the same
``as_audit()`` snapshots, commands and lifecycles (an event the lifecycle does not declare from the
animal's state raises). Each batch is one transaction holding the audit head's lock
(``services.scale_log``). The random choices are seeded, so the same N gives the same registry.
Known difference: an issued permit's entry carries no ``pdf_sha256`` (rendering thousands of PDFs
would take most of the run); nothing checks it.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection

from registry import clock
from registry.commands import animals as commands
from registry.extensions import db
from registry.machines import ANIMAL, FACILITY, PERMIT, TRANSFER, AnimalState, PermitState
from registry.machines.permit import IN_USE as PERMITS_IN_USE
from registry.models import (
    DOCUMENT_TYPES,
    Animal,
    AnimalEvent,
    EndorsedLine,
    Endorsement,
    Facility,
    FacilitySpecies,
    ForeignDocumentUse,
    Identifier,
    Inspection,
    Keeping,
    Party,
    Permit,
    PermitLine,
    Species,
    Transfer,
    User,
)
from registry.models.animal import identifier_key
from registry.models.transfer import transfer_animal
from registry.permissions import Actor, Role
from registry.services import audit
from registry.services.context import write_transaction
from registry.services.facilities import OCCUPYING
from registry.services.permits import add_months
from registry.services.scale_log import BulkLog, Serials

#: Entries per transaction: big enough for executemany to pay, small enough to keep memory flat.
BATCH = 8000
#: The tables written, in an order their foreign keys accept.
TABLES = (
    Party,
    User,
    Facility,
    FacilitySpecies,
    Inspection,
    Permit,
    PermitLine,
    ForeignDocumentUse,
    Animal,
    Identifier,
    AnimalEvent,
    Keeping,
    Endorsement,
    EndorsedLine,
    Transfer,
)
SEQUENCED = (
    *("party", "user_account", "facility", "inspection", "permit_line", "foreign_document_use", "animal"),
    *("identifier", "animal_event", "keeping", "endorsement", "endorsed_line", "transfer"),
)
FOREIGN = (
    ("ZA", "Afrika Aviaries"),
    ("DE", "Vogelpark Süd"),
    ("NL", "Reptielen Import"),
    ("CZ", "Terrarium Praha"),
    ("ID", "Nusantara Fauna"),
    ("SG", "Lion City Aquatics"),
    ("US", "Great Lakes Herpetoculture"),
    ("GB", "Cotswold Bird Gardens"),
    ("JP", "Osaka Exotic Animals"),
    ("AU", "Southern Cross Breeders"),
    ("BE", "Parc Paradisio"),
    ("TH", "Chiang Mai Breeding Centre"),
)
PORTS = ("Incheon International Airport (KRICN)", "Busan Port (KRPUS)", "Gimhae International Airport (KRPUS)")
CAUSES = ("Old age", "Respiratory infection", "Aspergillosis", "Injury", "Egg binding", "Unknown")


def _day_time(day: date) -> datetime:
    """*day* at the current time of day, in UTC: what ``clock.now()`` gives on a replayed day."""
    return datetime.combine(day, datetime.now(UTC).timetz())


class Ids:
    """Ids for new rows, taken before the rows are written (entries name them)."""

    def __init__(self) -> None:
        self.pool: dict[str, list[int]] = defaultdict(list)
        self.next: dict[str, int] = {}

    def begin(self, conn: Connection) -> None:
        self.conn = conn
        if conn.dialect.name == "sqlite":  # the write lock is held: max + 1 is free until commit
            self.next = {t: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one() for t in SEQUENCED}

    def take(self, table: str) -> int:
        if self.conn.dialect.name == "sqlite":
            self.next[table] += 1
            return self.next[table]
        if not self.pool[table]:  # PostgreSQL: from the table's own sequence, so other writers never collide
            self.pool[table] = list(
                self.conn.execute(
                    text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, 500)"), {"t": table}
                ).scalars()
            )[::-1]
        return self.pool[table].pop()


class Generator:
    """Writes consignment stories until the registry holds *target* animals."""

    def __init__(self, operator: Actor, target: int, seed: int, progress: Callable[[int], None] | None = None):
        self.operator = operator
        self.rng = random.Random(seed)
        self.target = target
        self.progress = progress or (lambda n: None)
        self.today = clock.today()
        self.country = current_app.config["ISSUING_COUNTRY"]
        self.log = BulkLog()
        self.serials = Serials()
        self.ids = Ids()
        self.rows: dict[Any, list] = defaultdict(list)
        self.links: list[dict] = []
        self.made = 0
        self.counter = 0
        #: Live animals by (facility, species), for the capacity rule.
        self.kept: dict[tuple[int, int], int] = defaultdict(int)
        self.open_periods: dict[tuple[int, str], Keeping] = {}
        self.last_day: dict[int, date] = {}
        self.marks: dict[int, list[Identifier]] = {}
        self.seized_from: dict[int, int | None] = {}
        self.line_permit: dict[int, int] = {}
        self.ledger: dict[int, ForeignDocumentUse] = {}
        self.facility_by_id: dict[int, Facility] = {}
        self.capacity: dict[tuple[int, int], int] = {}
        self.units = 0
        #: Picks that come first, so that even a small registry shows every state.
        self.forced: dict[str, list[str]] = {
            "unit": ["import", "recent", "pending", "void", "applications", "import", "applications"],
            "fate": [
                "death",
                "missing",
                "seize",
                "export",
                "transfer",
                "death",
                "missing",
                "seize",
                "missing",
                "seize",
            ],
            "after_death": ["stay", "dispose"],
            "after_missing": ["stay", "recover", "declare_dead"],
            "after_seize": ["stay", "return", "forfeit"],
            "transfer": ["acknowledged", "accepted", "pending", "declined", "cancelled"],
            "border": ["refused", "seized"],
            "register": ["wait"],
            "application": ["draft", "submitted", "changes_requested", "approved", "refused", "withdrawn", "issued"],
        }
        conn = db.session.connection()
        self.permit_ids = set(conn.execute(select(Permit.id)).scalars())
        self.codes = set(conn.execute(select(Transfer.code)).scalars())
        self.password_hash = conn.execute(
            select(User.password_hash).where(User.role == Role.KEEPER).order_by(User.id).limit(1)
        ).scalar()
        staff = {u.username: u for u in conn.execute(select(User)).all()}
        species = conn.execute(
            select(Species.id, Species.appendix, Species.taxon_class)
            .where(Species.taxon_class.in_(("Aves", "Reptilia", "Mammalia", "Amphibia")))
            .order_by(Species.id)
        ).all()
        if self.password_hash is None or not {"officer", "officer2", "customs"} <= set(staff):
            raise RuntimeError("the generator builds on the demo's core: run it through `registry demo`")
        self.staff = {name: staff[name] for name in ("officer", "officer2", "customs")}
        self.species = {row.id: row for row in self.rng.sample(species, min(60, len(species)))}

    # ---------------------------------------------------------------- batches

    def run(self) -> int:
        """Write everything, a batch per write transaction; returns the number of entries written."""
        first = True
        while first or self.made < self.target:
            try:
                with write_transaction() as session:
                    self._begin(session.connection())
                    if first:
                        self._setup()
                        first = False
                    while self.made < self.target and len(self.log.entries) < BATCH:
                        self._unit()
                    self._flush()
            except BaseException:
                self.log.rolled_back()
                raise
            self._forget()
        return self.log.count

    def _begin(self, conn: Connection) -> None:
        self.conn = conn
        # context.LOCK_ORDER: the serial counters before the audit head, as every use case takes them.
        years = range(self.today.year - 4, self.today.year + 1)
        self.serials.begin(conn, [(n, y) for y in years for n in ("animal", f"permit:{self.country}")])
        self.log.begin(conn)
        self.ids.begin(conn)

    def _flush(self) -> None:
        """Write the batch's rows, then its entries and the head; the write transaction commits them."""
        for model in TABLES:
            objects = self.rows.pop(model, [])
            if objects:
                columns = [c.key for c in model.__table__.columns]
                # The instance's own values (an attribute never set is NULL, as getattr would say).
                self.conn.execute(insert(model), [{c: o.__dict__.get(c) for c in columns} for o in objects])
        if self.links:
            self.conn.execute(insert(transfer_animal), self.links)
        self.serials.flush(self.conn)
        self.log.flush()

    def _forget(self) -> None:
        """After a batch: what only its stories needed (no later story reaches back into it)."""
        self.rows.clear()
        self.links = []
        for kept in (self.open_periods, self.marks, self.last_day, self.seized_from, self.line_permit, self.ledger):
            kept.clear()

    def _add(self, obj: Any) -> Any:
        self.rows[type(obj)].append(obj)
        return obj

    # ---------------------------------------------------------------- picks

    def choose(self, name: str, options: dict[str, float]) -> str:
        if self.forced.get(name):
            return self.forced[name].pop(0)
        return self.rng.choices(list(options), weights=list(options.values()))[0]

    def _actor(self, user: Any) -> Actor:
        return Actor(user.id, user.username, user.role, user.party_id, f"{self.rng.getrandbits(128):032x}")

    def _staff(self, name: str) -> Actor:
        return self._actor(self.staff[name])

    def _record(self, actor: Actor, action: str, kind: str, obj_id: Any, before, after, subjects=()) -> None:
        self.log.record(actor, action, kind, obj_id, before, after, subjects)

    def _chip(self) -> str:
        self.counter += 1
        return f"985{self.counter:012d}"

    # ---------------------------------------------------------------- parties, keepers, facilities

    def _setup(self) -> None:
        operator, officer = self.operator, self._staff("officer")
        self.foreign = [
            self._party(operator, "organisation", f"{name} ({code})", code, f"{code}-SCALE-{i:03d}")
            for i, (code, name) in enumerate(FOREIGN)
        ]
        authority = self._party(operator, "organisation", "National Institute of Ecology", self.country, "GOV-NIE")
        allowances = dict.fromkeys(self.species, 100000)
        self.rescue = self._facility(
            officer, "KR-FAC-GOV-0100", "NIE rescue and quarantine centre", authority, allowances
        )
        self.keepers: list[tuple[Party, User]] = []
        self.facilities: list[Facility] = []
        self.by_species: dict[int, list[Facility]] = defaultdict(list)
        for k in range(max(4, self.target // 120)):
            kind = "organisation" if k % 3 == 0 else "person"
            name = f"Zoo and aviary no. {k + 1}" if kind == "organisation" else f"Breeder no. {k + 1}"
            party = self._party(operator, kind, name, self.country, f"KR-SCALE-{k + 1:05d}")
            user = self._user(operator, f"keeper{k + 1:05d}", party)
            self.keepers.append((party, user))
            for f in range(1 + (k % 2)):
                chosen = self.rng.sample(sorted(self.species), self.rng.randint(4, 8))
                capacities = {s: self.rng.randint(25, 150) for s in chosen}
                facility = self._facility(
                    officer, f"KR-FAC-S-{k + 1:05d}-{f + 1}", f"{name}, site {f + 1}", party, capacities
                )
                self.facilities.append(facility)
                for s in chosen:
                    self.by_species[s].append(facility)
                self._inspections(facility)
            if k % 10 == 9:  # an application for a new site, waiting for the office
                self._apply_facility(self._actor(user), party)

    def _party(self, actor: Actor, kind: str, name: str, country: str, registration_no: str) -> Party:
        party = self._add(
            Party(
                id=self.ids.take("party"),
                kind=kind,
                name=name,
                registration_no=registration_no,
                country=country,
                address=f"{name}, {country}",
                created_at=_day_time(self.today),
            )
        )
        self._record(actor, "party.create", "party", party.id, None, party.as_audit())
        return party

    def _user(self, actor: Actor, username: str, party: Party) -> User:
        user = self._add(
            User(
                id=self.ids.take("user_account"),
                username=username,
                display_name=party.name,
                password_hash=self.password_hash,
                role=Role.KEEPER.value,
                party_id=party.id,
                is_enabled=True,
                session_epoch=0,
                must_change_password=False,
                created_at=_day_time(self.today),
            )
        )
        self._record(actor, "user.create", "user", user.id, None, user.as_audit())
        return user

    def _facility(
        self, actor: Actor, number: str | None, name: str, holder: Party, capacities: dict[int, int], event="register"
    ) -> Facility:
        facility_id = self.ids.take("facility")
        facility = Facility(
            id=facility_id,
            registration_no=number,
            name=name,
            holder_party_id=holder.id,
            address=holder.address,
            status=FACILITY.transition(None, event).target,
            created_at=_day_time(self.today),
            version=1,
            allowances=[
                FacilitySpecies(facility_id=facility_id, species_id=s, capacity=c) for s, c in capacities.items()
            ],
        )
        facility.allowances.sort(key=lambda a: a.species_id)
        self._add(facility)
        for allowance in facility.allowances:
            self._add(allowance)
        self.facility_by_id[facility_id] = facility
        self.capacity.update({(facility_id, s): c for s, c in capacities.items()})
        self._record(actor, f"facility.{event}", "facility", facility.id, None, facility.as_audit())
        return facility

    def _apply_facility(self, actor: Actor, party: Party) -> None:
        chosen = self.rng.sample(sorted(self.species), 2)
        self._facility(actor, None, f"{party.name}, new site", party, dict.fromkeys(chosen, 20), event="apply")

    def _inspections(self, facility: Facility) -> None:
        officer = self._staff("officer")
        day = self.today - timedelta(days=self.rng.randint(200, 900))
        for _ in range(self.rng.randint(0, 2)):
            result = self.choose("inspection", {"passed": 8, "improvement_ordered": 2})
            inspection = {"result": result, "findings": None, "next_due": day + timedelta(days=365)}
            before = facility.as_audit()
            FACILITY.transition(facility.status, "inspect")
            self._add(
                Inspection(
                    id=self.ids.take("inspection"),
                    facility_id=facility.id,
                    inspected_on=day,
                    officer_name=officer.username,
                    **inspection,
                )
            )
            facility.version += 1
            self._record(
                officer,
                "facility.inspect",
                "facility",
                facility.id,
                before,
                facility.as_audit() | {"inspection": inspection},
            )
            day += timedelta(days=self.rng.randint(300, 420))

    # ---------------------------------------------------------------- permits

    def _application(
        self, actor: Actor, day: date, doc_type: str, applicant: Party, other: Party, species: int, quantity: int
    ) -> Permit:
        appendix = self.species[species].appendix
        importing = doc_type == "import"
        permit_id = self.rng.randrange(1, 2**31 - 1)
        while permit_id in self.permit_ids:
            permit_id = self.rng.randrange(1, 2**31 - 1)
        self.permit_ids.add(permit_id)
        line = PermitLine(
            id=self.ids.take("permit_line"),
            permit_id=permit_id,
            line_no=1,
            species_id=species,
            appendix=appendix,
            term_code="LIV",
            quantity=Decimal(quantity),
            unit_code=None,
            description=None,
        )
        purpose = self.rng.choice(("Z", "B", "S") if appendix == "I" else ("T", "Z", "B", "P"))
        permit = Permit(
            id=permit_id,
            doc_type=doc_type,
            state=PERMIT.transition(None, "create").target,
            issuing_country=self.country,
            applicant_party_id=applicant.id,
            importer_party_id=applicant.id if importing else other.id,
            exporter_party_id=other.id if importing else applicant.id,
            import_country=self.country if importing else other.country,
            export_country=other.country if importing else self.country,
            origin_country=other.country if importing else None,
            purpose_code=purpose,
            source_code="C" if appendix == "I" or not importing else self.rng.choice(("C", "W", "F")),
            foreign_permit_no=f"{other.country}-EXP-{day.year}-{permit_id % 100000:05d}" if importing else None,
            created_by_id=actor.user_id,
            created_at=_day_time(day),
            version=1,
            lines=[line],
        )
        self._add(permit)
        self._add(line)
        if importing:  # the ledger of foreign documents (services.foreign_documents.note)
            self.ledger[permit.id] = self._add(
                ForeignDocumentUse(
                    id=self.ids.take("foreign_document_use"),
                    country=permit.export_country,
                    document_no=permit.foreign_permit_no,
                    permit_id=permit.id,
                    quantity=Decimal(quantity),
                    cleared=Decimal(0),
                    created_at=_day_time(day),
                )
            )
        self._record(actor, "permit.create", "permit", permit.id, None, permit.as_audit())
        return permit

    def _permit_event(self, actor: Actor, permit: Permit, event: str, day: date, reason: str | None = None) -> None:
        """One workflow action, as ``services.permits.record_permit_event`` takes it."""
        t = PERMIT.transition(permit.state, event)
        before = permit.as_audit()
        permit.state = t.target
        permit.version += 1
        if reason:
            permit.decision_note = reason
        if t.target == PermitState.SUBMITTED:
            permit.submitted_at = _day_time(day)
        elif t.target == PermitState.APPROVED:
            permit.approved_by_id = actor.user_id
        elif t.target == PermitState.ISSUED:
            permit.number = f"{self.country}/{day.year}/{self.serials.next(f'permit:{self.country}', day.year):06d}"
            permit.security_token = f"{self.rng.getrandbits(144):036x}"
            permit.valid_from = day
            permit.valid_until = add_months(day, DOCUMENT_TYPES[permit.doc_type]) - timedelta(days=1)
            permit.issued_by_id, permit.issued_at = actor.user_id, _day_time(day)
        after = permit.as_audit()
        if t.target == PermitState.ISSUED and permit.doc_type == "import":
            after["foreign_document"] = self.ledger[permit.id].as_audit()
        self._record(actor, f"permit.{event}", "permit", permit.id, before, after)

    def _issued(self, keeper: Actor, day: date, doc_type: str, party: Party, other: Party, species: int, n: int):
        permit = self._application(keeper, day, doc_type, party, other, species, n)
        self._permit_event(keeper, permit, "submit", day + timedelta(days=1))
        self._permit_event(self._staff("officer"), permit, "approve", day + timedelta(days=3))
        self._permit_event(self._staff("officer2"), permit, "issue", day + timedelta(days=5))
        return permit

    def _applications(self) -> None:
        """An application stopped at one step of the workflow (nobody's animals on it)."""
        party, user = self.rng.choice(self.keepers)
        keeper, officer = self._actor(user), self._staff("officer")
        day = self.today - timedelta(days=self.rng.randint(8, 300))
        species = self.rng.choice(sorted(self.species))
        doc_type = self.rng.choice(("import", "import", "export"))
        permit = self._application(keeper, day, doc_type, party, self.rng.choice(self.foreign), species, 2)
        step = self.choose(
            "application",
            {"draft": 2, "submitted": 3, "changes_requested": 1, "approved": 1, "refused": 1, "withdrawn": 1},
        )
        if step == "withdrawn":
            self._permit_event(keeper, permit, "withdraw", day)
            return
        if step == "draft":
            return
        self._permit_event(keeper, permit, "submit", day + timedelta(days=1))
        if step == "changes_requested":
            self._permit_event(
                officer, permit, "request_changes", day + timedelta(days=2), "Add the exporter's address."
            )
        elif step == "refused":
            self._permit_event(
                officer, permit, "refuse", day + timedelta(days=2), "The purpose does not fit the appendix."
            )
        elif step in ("approved", "issued"):
            self._permit_event(officer, permit, "approve", day + timedelta(days=3))
            if step == "issued":
                self._permit_event(self._staff("officer2"), permit, "issue", day + timedelta(days=5))
                if (
                    permit.valid_until is not None and permit.valid_until < self.today
                ):  # what the daily `registry permits expire` does
                    self._permit_event(self.operator, permit, "expire", self.today)

    # ---------------------------------------------------------------- animals

    def _new_animal(self, actor: Actor, day: date, marks: list[tuple[str, str]], **fields) -> tuple[Animal, list]:
        year = day.year
        animal = Animal(
            id=self.ids.take("animal"),
            registry_no=f"{self.country}-A-{year}-{self.serials.next('animal', year):06d}",
            name=None,
            birth_date_estimated=False,
            facility_id=None,
            holder_party_id=None,
            sire_id=None,
            dam_id=None,
            permit_line_id=None,
            created_at=_day_time(day),
            version=1,
            **fields,
        )
        self._add(animal)
        idents = [
            self._add(
                Identifier(
                    id=self.ids.take("identifier"),
                    animal_id=animal.id,
                    kind=kind,
                    value=value,
                    value_key=identifier_key(value),
                    active=True,
                    applied_on=day,
                    retired_on=None,
                    note=None,
                    recorded_at=_day_time(day),
                )
            )
            for kind, value in marks
        ]
        self.made += 1
        self.progress(1)
        return animal, idents

    def _timeline(self, actor: Actor, animal: Animal, event: str, from_state, day: date, details: dict, permit_id=None):
        row = AnimalEvent(
            id=self.ids.take("animal_event"),
            animal_id=animal.id,
            event=event,
            from_state=from_state,
            to_state=animal.state,
            occurred_on=day,
            recorded_at=_day_time(day),
            actor_id=actor.user_id,
            actor_name=actor.username,
            permit_id=permit_id,
            details=audit.jsonable(details),
        )
        self.last_day[animal.id] = day
        return self._add(row)

    def _record_new(self, actor: Actor, animal: Animal, row: AnimalEvent, marks: list, subjects: list) -> None:
        after = animal.as_audit() | {
            "identifiers": [[m.kind, m.value] for m in marks],
            "event": row.details,
            "occurred_on": row.occurred_on,
            "event_id": row.id,
        }
        self._record(actor, f"animal.{row.event}", "animal", animal.id, None, after, subjects)
        for ident in marks:
            self._record(
                actor, "animal.identifier_add", "identifier", ident.id, None, ident.as_audit(), [("animal", animal.id)]
            )

    def _keep(self, animal: Animal, relation: str, party_id, facility_id, since: date, event: AnimalEvent) -> None:
        """``services.keeping._keep``: close the open period if it changes, open the new one."""
        current = self.open_periods.get((animal.id, relation))
        if current is not None:
            if current.party_id == party_id and (relation == "owner" or current.facility_id == facility_id):
                return
            current.until = since
            del self.open_periods[(animal.id, relation)]
        if party_id is not None:
            period = Keeping(
                id=self.ids.take("keeping"),
                animal_id=animal.id,
                relation=relation,
                party_id=party_id,
                facility_id=facility_id if relation == "holder" else None,
                since=since,
                until=None,
                event_id=event.id,
            )
            self.open_periods[(animal.id, relation)] = self._add(period)

    def _place(self, animal: Animal, row: AnimalEvent, owner_id, facility: Facility | None, when: date) -> None:
        if owner_id is not None:
            animal.owner_party_id = owner_id
        if facility is not None:
            animal.facility_id = facility.id
            animal.holder_party_id = facility.holder_party_id
        self._keep(animal, "owner", animal.owner_party_id, None, when, row)
        self._keep(animal, "holder", animal.holder_party_id, animal.facility_id, when, row)

    def _release(self, animal: Animal, row: AnimalEvent, when: date) -> None:
        animal.facility_id = None
        animal.holder_party_id = None
        self._keep(animal, "holder", None, None, when, row)

    def room(self, facility: Facility, species: int, more: int = 1) -> bool:
        return self.kept[(facility.id, species)] + more <= self.capacity.get((facility.id, species), 0)

    def event(
        self,
        actor: Actor,
        animal: Animal,
        command: commands.AnimalEvent,
        permit: Permit | None = None,
        transfer: Transfer | None = None,
        recorded: date | None = None,
    ) -> None:
        """One event on an existing animal, as ``services.animals.record_animal_event`` records it."""
        name, when = command.EVENT, command.occurred_on
        assert when is not None
        t = ANIMAL.transition(animal.state, name)  # raises on an event the lifecycle does not declare
        details = {k: v for k, v in dataclasses.asdict(command).items() if k not in ("occurred_on", "version")}
        facility = None
        if name in ("register", "transfer", "recover", "seize"):
            facility = self.facility_by_id[int(details.get("facility_id") or animal.facility_id or 0)]
        before = animal.as_audit()
        from_state, facility_before = animal.state, animal.facility_id
        if name == "return":
            details["facility_id"] = details.get("facility_id") or self.seized_from[animal.id]
            facility = self.facility_by_id[details["facility_id"]]
        if from_state in OCCUPYING and facility_before is not None:
            self.kept[(facility_before, animal.species_id)] -= 1
        animal.state = t.target
        animal.version += 1
        row = self._timeline(actor, animal, name, from_state, when, details, permit.id if permit is not None else None)
        if recorded is not None:
            row.recorded_at = _day_time(recorded)
        if name in ("register", "transfer", "recover", "return"):
            self._place(animal, row, details.get("owner_party_id"), facility, when)
        elif name == "seize":
            row.details = {**row.details, "previous_facility_id": animal.facility_id}
            self.seized_from[animal.id] = animal.facility_id
            self._place(animal, row, None, facility, when)
        elif name == "forfeit":
            self._place(animal, row, animal.holder_party_id, None, when)
        elif name in ("dispose", "export"):
            self._release(animal, row, when)
        elif name in ("refuse_entry", "void"):
            freed = [i for i in self.marks[animal.id] if i.active]
            for ident in freed:
                ident_before = ident.as_audit()
                ident.active, ident.retired_on = False, when
                self._record(actor, "animal.identifier_retire", "identifier", ident.id, ident_before, ident.as_audit())
            if freed:
                row.details = {**row.details, "released_identifiers": [f"{i.kind} {i.value}" for i in freed]}
        if animal.state in OCCUPYING and animal.facility_id is not None:
            self.kept[(animal.facility_id, animal.species_id)] += 1
        subjects: list[audit.Subject] = [("facility", facility_before), ("facility", animal.facility_id)]
        if permit is not None:
            subjects.append(("permit", permit.id))
        if from_state == AnimalState.DECLARED and animal.permit_line_id is not None:
            subjects += [("permit_line", animal.permit_line_id), ("permit", self.line_permit[animal.permit_line_id])]
        if transfer is not None:
            subjects.append(("transfer", transfer.id))
        after = animal.as_audit() | {"event": row.details, "occurred_on": when, "event_id": row.id}
        self._record(actor, f"animal.{name}", "animal", animal.id, before, after, subjects)

    # ---------------------------------------------------------------- one consignment's story

    def _unit(self) -> None:
        kind = self.choose("unit", {"import": 40, "pending": 1, "void": 1, "applications": 6})
        self.units += 1
        if kind == "applications":
            self._applications()
            return
        species, facility = self._home()
        party, user = next((p, u) for p, u in self.keepers if p.id == facility.holder_party_id)
        keeper = self._actor(user)
        # The first consignment is an old one of ten, whose animals meet every fate (self.forced).
        q = min(10 if self.units == 1 else self.rng.randint(2, 8), self.target - self.made)
        if kind == "pending":  # issued lately; the animals have not crossed yet
            start = self.today - timedelta(days=self.rng.randint(7, 20))
        elif kind == "recent":  # still in force: partly used, an animal waiting to be placed
            start = self.today - timedelta(days=self.rng.randint(40, 200))
        else:
            start = self.today - timedelta(days=1000 if self.units == 1 else self.rng.randint(60, 1100))
        permit = self._issued(keeper, start, "import", party, self.rng.choice(self.foreign), species, q)
        line = permit.lines[0]
        self.line_permit[line.id] = permit.id
        declared = []
        day = start + timedelta(days=6)
        for i in range(q):
            marks = [("microchip", self._chip())]
            fields = {
                "species_id": species,
                "state": ANIMAL.transition(None, "declare").target,
                "sex": self.rng.choice("MFFU" if i else "MF"),
                "birth_date": None,
                "source_code": permit.source_code,
                "origin_country": permit.origin_country or permit.export_country,
                "owner_party_id": permit.importer_party_id or permit.applicant_party_id,
            }
            animal, idents = self._new_animal(keeper, day, marks, **fields)
            animal.permit_line_id = line.id
            self.marks[animal.id] = idents
            row = self._timeline(keeper, animal, "declare", None, day, {"permit_line_id": line.id}, permit.id)
            self._record_new(keeper, animal, row, idents, [("permit", permit.id), ("permit_line", line.id)])
            declared.append(animal)
        if kind == "pending":
            return
        if kind == "void":  # the shipment never came: the declarations are voided, the permit cancelled
            for animal in declared:
                self.event(keeper, animal, commands.Void(reason="The exporter withdrew the shipment.", occurred_on=day))
            self._permit_event(self._staff("officer2"), permit, "cancel", day, "Exporter withdrew the shipment.")
            return
        crossed = day + timedelta(days=self.rng.randint(5, 30))
        live = self._border(permit, declared, crossed)
        live = self._register(keeper, facility, species, live, crossed)
        live += self._births(keeper, facility, species, live)
        self._fates(keeper, party, facility, species, live)
        if permit.state == PermitState.USED and self.rng.random() < 0.6:
            self._permit_event(self._staff("officer"), permit, "close", min(crossed + timedelta(days=20), self.today))
        elif permit.state in PERMITS_IN_USE and (permit.valid_until or self.today) < self.today:
            self._permit_event(self.operator, permit, "expire", self.today)

    def _home(self) -> tuple[int, Facility]:
        """A keeper's facility and a species it may keep, with room for a consignment and its young."""
        for _ in range(50):
            facility = self.rng.choice(self.facilities)
            species = self.rng.choice([a.species_id for a in facility.allowances])
            if self.room(facility, species, 14):
                return species, facility
        raise RuntimeError("the generated facilities are full")  # pragma: no cover - capacities outgrow N

    def _border(self, permit: Permit, declared: list[Animal], day: date) -> list[Animal]:
        """Customs endorses the consignment: most animals enter, some may be refused or seized."""
        customs = self._staff("customs")
        outcome = {a.id: "cleared" for a in declared}
        if self.rng.random() < 0.08 or (self.forced["border"] and self.units > 1):
            outcome[declared[-1].id] = self.choose("border", {"refused": 2, "seized": 1})
        order = [a for o in ("cleared", "refused", "seized") for a in declared if outcome[a.id] == o]
        line = permit.lines[0]
        port = self.rng.choice(PORTS)
        endorsement = Endorsement(
            id=self.ids.take("endorsement"),
            permit_id=permit.id,
            direction="entry",
            port=port,
            endorsed_on=day,
            transport_doc=f"AWB 180-{self.rng.randint(10000000, 99999999)}",
            officer_id=customs.user_id,
            officer_name=customs.username,
            created_at=_day_time(day),
        )
        self._add(endorsement)
        cleared = sum(1 for a in declared if outcome[a.id] == "cleared")
        t = PERMIT.transition(permit.state, "endorse_final" if cleared >= line.quantity else "endorse")
        before = permit.as_audit()
        for result in ("cleared", "refused", "seized"):
            group = [a for a in order if outcome[a.id] == result]
            if not group:
                continue
            endorsed = EndorsedLine(
                id=self.ids.take("endorsed_line"),
                endorsement_id=endorsement.id,
                line_id=line.id,
                quantity=Decimal(len(group)),
                outcome=result,
                line=line,
            )
            endorsement.lines.append(endorsed)
            self._add(endorsed)
            for animal in group:
                if result == "cleared":
                    self.event(customs, animal, commands.Enter(port=port, occurred_on=day), permit)
                elif result == "refused":
                    self.event(customs, animal, commands.RefuseEntry(reason="refused at the border", occurred_on=day))
                else:
                    seize = commands.Seize(facility_id=self.rescue.id, reason="seized at the border", occurred_on=day)
                    self.event(customs, animal, seize)
        permit.state = t.target
        permit.version += 1
        self.ledger[permit.id].cleared += Decimal(cleared)
        self._record(
            customs,
            "permit.endorse",
            "permit",
            permit.id,
            before,
            permit.as_audit() | {"endorsement": endorsement.as_audit()},
            [("animal", a.id) for a in order],
        )
        return [a for a in declared if outcome[a.id] == "cleared"]

    def _register(self, keeper: Actor, facility: Facility, species: int, entered: list[Animal], day: date):
        placed = []
        for animal in entered:
            when = day + timedelta(days=self.rng.randint(1, 10))
            wait = self.units > 1 and self.choose("register", {"place": 60, "wait": 1}) == "wait"
            if wait or when > self.today:
                continue  # entered, not yet placed: overdue after 14 days
            self.event(keeper, animal, commands.Register(facility_id=facility.id, occurred_on=when))
            placed.append(animal)
        return placed

    def _births(self, keeper: Actor, facility: Facility, species: int, adults: list[Animal]) -> list[Animal]:
        sires = [a for a in adults if a.sex == "M"]
        dams = [a for a in adults if a.sex == "F"]
        young: list[Animal] = []
        if not sires or not dams:
            return young
        for _ in range(self.rng.choice((0, 1, 2, 3))):
            sire, dam = self.rng.choice(sires), self.rng.choice(dams)
            born = max(self.last_day[sire.id], self.last_day[dam.id]) + timedelta(days=self.rng.randint(60, 400))
            if born > self.today or self.made >= self.target or not self.room(facility, species):
                break
            ring = f"{self.country}-RING-{born.year}-{self._chip()[-7:]}"
            chick, idents = self._new_animal(
                keeper,
                born,
                [("closed_ring", ring)],
                species_id=species,
                state=ANIMAL.transition(None, "birth").target,
                sex=self.rng.choice("MFU"),
                birth_date=born,
                source_code="C",
                origin_country=self.country,
                owner_party_id=dam.owner_party_id,
            )
            chick.sire_id, chick.dam_id = sire.id, dam.id
            self.marks[chick.id] = idents
            details = {"sire_id": sire.id, "dam_id": dam.id, "facility_id": facility.id}
            row = self._timeline(keeper, chick, "birth", None, born, details)
            self._place(chick, row, None, facility, born)
            self.kept[(facility.id, species)] += 1
            self._record_new(
                keeper, chick, row, idents, [("animal", sire.id), ("animal", dam.id), ("facility", facility.id)]
            )
            young.append(chick)
        return young

    def _later(self, animal: Animal, low: int, high: int) -> date | None:
        day = self.last_day[animal.id] + timedelta(days=self.rng.randint(low, high))
        return day if day <= self.today else None

    def _fates(self, keeper: Actor, party: Party, facility: Facility, species: int, animals: list[Animal]) -> None:
        officer = self._staff("officer")
        moving, leaving = [], []
        for animal in animals:
            if self.rng.random() < 0.3 and (day := self._later(animal, 1, 60)):  # a photo for the file
                self._photo(keeper, animal, day)
            fate = self.choose("fate", {"stay": 55, "transfer": 14, "death": 14, "missing": 5, "seize": 3, "export": 9})
            if fate == "transfer":
                moving.append(animal)
            elif fate == "export":
                leaving.append(animal)
            elif fate == "death" and (day := self._later(animal, 30, 700)):
                late = self.rng.random() < 0.1
                reported = min(day + timedelta(days=self.rng.randint(4, 12)), self.today) if late else None
                sick = self.rng.random() < 0.2
                death = commands.Death(cause=self.rng.choice(CAUSES), disease_suspected=sick, occurred_on=day)
                self.event(keeper, animal, death, recorded=reported)
                if self.choose("after_death", {"dispose": 8, "stay": 2}) == "dispose" and (
                    when := self._later(animal, 1, 20)
                ):
                    self._dispose(keeper, officer, animal, sick, when)
            elif fate == "missing" and (day := self._later(animal, 30, 700)):
                self.event(
                    keeper, animal, commands.ReportMissing(circumstances="Enclosure found open.", occurred_on=day)
                )
                after = self.choose("after_missing", {"recover": 4, "declare_dead": 3, "stay": 3})
                when = self._later(animal, 3, 120)
                if after == "recover" and when and self.room(facility, species):
                    self.event(keeper, animal, commands.Recover(occurred_on=when))
                elif after == "declare_dead" and when:
                    self.event(
                        officer, animal, commands.DeclareDead(reason="Not found after search.", occurred_on=when)
                    )
            elif fate == "seize" and (day := self._later(animal, 30, 700)):
                seize = commands.Seize(
                    facility_id=self.rescue.id, reason="Kept without the required permit.", occurred_on=day
                )
                self.event(officer, animal, seize)
                after = self.choose("after_seize", {"return": 5, "forfeit": 3, "stay": 2})
                when = self._later(animal, 10, 120)
                if after == "return" and when and self.room(facility, species):
                    self.event(officer, animal, commands.Return(occurred_on=when))
                elif after in ("forfeit", "return") and when:
                    self.event(officer, animal, commands.Forfeit(occurred_on=when))
        if moving:
            self._transfer(keeper, party, facility, species, moving)
        if leaving:
            self._export(keeper, party, species, leaving)

    def _photo(self, keeper: Actor, animal: Animal, day: date) -> None:
        ident = self._add(
            Identifier(
                id=self.ids.take("identifier"),
                animal_id=animal.id,
                kind="photo",
                value=f"photo {animal.registry_no} {day.isoformat()}",
                value_key=identifier_key(f"photo {animal.registry_no} {day.isoformat()}"),
                active=True,
                applied_on=None,
                retired_on=None,
                note=None,
                recorded_at=_day_time(day),
            )
        )
        self.marks[animal.id].append(ident)
        self._record(
            keeper, "animal.identifier_add", "identifier", ident.id, None, ident.as_audit(), [("animal", animal.id)]
        )

    def _dispose(self, keeper: Actor, officer: Actor, animal: Animal, sick: bool, day: date) -> None:
        methods = commands.SAFE_METHODS if sick else tuple(commands.DisposalMethod)
        method = self.rng.choice(sorted(methods))
        if method == commands.DisposalMethod.DONATION:
            self.event(officer, animal, commands.ApproveDonation(recipient="National Science Museum", occurred_on=day))
        dispose = commands.Dispose(
            method=commands.DisposalMethod(method),
            handler="Gyeonggi Animal Cremation Co.",
            place="Yongin",
            witness="Dr. Lee (veterinarian)",
            licence_no="GG-2023-118" if method in commands.LICENSED_METHODS else None,
            occurred_on=day,
        )
        self.event(keeper, animal, dispose)

    def _transfer(self, keeper: Actor, party: Party, facility: Facility, species: int, animals: list[Animal]) -> None:
        """The owner offers the animals to another keeper, who answers; an officer acknowledges."""
        targets = [
            f for f in self.by_species[species] if f.holder_party_id != party.id and self.room(f, species, len(animals))
        ]
        if not targets:
            return
        target = self.rng.choice(targets)
        day = max(self.last_day[a.id] for a in animals) + timedelta(days=self.rng.randint(10, 400))
        if day > self.today:
            return
        receiver = self._actor(next(u for p, u in self.keepers if p.id == target.holder_party_id))
        code = f"{self.rng.getrandbits(32):08X}"
        while code in self.codes:
            code = f"{self.rng.getrandbits(32):08X}"
        self.codes.add(code)
        ownership = self.rng.random() < 0.85
        transfer = self._add(
            Transfer(
                id=self.ids.take("transfer"),
                code=code,
                state=TRANSFER.transition(None, "start").target,
                transferor_party_id=party.id,
                transferee_party_id=target.holder_party_id,
                facility_id=target.id,
                ownership=ownership,
                planned_on=day,
                note="breeding loan" if not ownership else None,
                decision_note=None,
                created_by_id=keeper.user_id,
                created_at=_day_time(day),
                version=1,
                animals=sorted(animals, key=lambda a: a.id),
            )
        )
        offered = []
        for a in transfer.animals:
            seen = {
                "offered_version": a.version,
                "offered_owner_party_id": a.owner_party_id,
                "offered_holder_party_id": a.holder_party_id,
                "offered_facility_id": a.facility_id,
            }
            self.links.append({"transfer_id": transfer.id, "animal_id": a.id, **seen})
            offered.append({"animal_id": a.id, **seen})
        subjects = [("animal", a.id) for a in transfer.animals] + [("facility", target.id)]
        self._record(
            keeper,
            "transfer.start",
            "transfer",
            transfer.id,
            None,
            transfer.as_audit() | {"offered": offered},
            subjects,
        )
        answer = self.choose(
            "transfer", {"acknowledged": 12, "accepted": 1, "pending": 1, "declined": 1, "cancelled": 1}
        )
        when = day + timedelta(days=self.rng.randint(1, 7))
        if answer == "pending" or when > self.today:
            return
        actor = keeper if answer == "cancelled" else receiver
        event = {"cancelled": "cancel", "declined": "decline"}.get(answer, "accept")
        step = TRANSFER.transition(transfer.state, event)
        before = transfer.as_audit()
        if event == "accept":
            for a in transfer.animals:
                move = commands.Transfer(
                    owner_party_id=transfer.transferee_party_id if ownership else None,
                    facility_id=target.id,
                    note=f"transfer {code}",
                    occurred_on=when,
                )
                self.event(receiver, a, move, transfer=transfer)
        transfer.state = step.target
        transfer.version += 1
        transfer.decision_note = "Not enough room this season." if event == "decline" else None
        if event != "cancel":
            transfer.answered_at = _day_time(when)
        self._record(actor, f"transfer.{event}", "transfer", transfer.id, before, transfer.as_audit(), subjects)
        acknowledged = when + timedelta(days=self.rng.randint(1, 5))
        if answer == "acknowledged" and acknowledged <= self.today:
            officer = self._staff("officer")
            before = transfer.as_audit()
            transfer.state = TRANSFER.transition(transfer.state, "acknowledge").target
            transfer.version += 1
            transfer.acknowledged_at = _day_time(acknowledged)
            self._record(
                officer, "transfer.acknowledge", "transfer", transfer.id, before, transfer.as_audit(), subjects
            )

    def _export(self, keeper: Actor, party: Party, species: int, animals: list[Animal]) -> None:
        """An export permit for the animals, and customs endorsing their exit."""
        start = max(self.last_day[a.id] for a in animals) + timedelta(days=self.rng.randint(10, 200))
        crossed = start + timedelta(days=self.rng.randint(10, 60))
        if crossed > self.today:
            return
        buyer = self.rng.choice(self.foreign)
        permit = self._issued(keeper, start, "export", party, buyer, species, len(animals))
        customs = self._staff("customs")
        port = self.rng.choice(PORTS)
        before = permit.as_audit()
        t = PERMIT.transition(permit.state, "endorse_final")
        endorsement = self._add(
            Endorsement(
                id=self.ids.take("endorsement"),
                permit_id=permit.id,
                direction="exit",
                port=port,
                endorsed_on=crossed,
                transport_doc=f"AWB 180-{self.rng.randint(10000000, 99999999)}",
                officer_id=customs.user_id,
                officer_name=customs.username,
                created_at=_day_time(crossed),
            )
        )
        line = permit.lines[0]
        endorsed = EndorsedLine(
            id=self.ids.take("endorsed_line"),
            endorsement_id=endorsement.id,
            line_id=line.id,
            quantity=Decimal(len(animals)),
            outcome="cleared",
            line=line,
        )
        endorsement.lines.append(endorsed)
        self._add(endorsed)
        for a in animals:
            self.event(customs, a, commands.Export(permit_id=permit.id, port=port, occurred_on=crossed), permit)
        permit.state = t.target
        permit.version += 1
        self._record(
            customs,
            "permit.endorse",
            "permit",
            permit.id,
            before,
            permit.as_audit() | {"endorsement": endorsement.as_audit()},
            [("animal", a.id) for a in animals],
        )


def generate(operator: Actor, animals: int, seed: int = 2026, progress: Callable[[int], None] | None = None) -> int:
    """Add stories until the registry holds *animals* animals (the core's count too); returns the
    number of audit entries written."""
    have = db.session.scalar(select(func.count()).select_from(Animal)) or 0
    if have >= animals:
        return 0
    written = Generator(operator, animals - have, seed, progress).run()
    if db.session.get_bind().dialect.name == "postgresql":
        # Fresh statistics: until autovacuum gets to the tables, the planner takes them for the small
        # ones they were, and reconciling 100,000 animals ran for more than 15 minutes instead of 2.
        with write_transaction() as session:
            session.execute(text("ANALYZE"))
    return written
