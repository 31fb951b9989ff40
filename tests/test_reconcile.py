"""`registry audit reconcile`: the tables replayed from the log, and every row edited behind the
application's back named. The history is built through the services; the edits are raw SQL on the
test's connection (rolled back with it)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text

from registry.audit_replay import Entry, Keepers, fold, mismatches
from registry.cli import reconcile_audit, verify_audit
from registry.commands.animals import Void
from registry.models import (
    Animal,
    AnimalEvent,
    AuditEntry,
    EndorsedLine,
    Endorsement,
    Identifier,
    Keeping,
    Permit,
    Transfer,
)
from registry.services import animals, arrivals, audit
from registry.services.animals import EventSpec
from registry.services.reconcile import reconcile
from tests import uses
from tests.helpers import animal_in, declared_animal, permit_in

CHIP = "900000000000111"


@dataclass
class History:
    kept: Animal  # in captivity at the zoo, chipped, a tag added by hand
    dead: Animal
    declared: Animal
    transfer: Transfer  # two parrots, accepted by the breeder and acknowledged
    permit: Permit  # an import permit, one parrot cleared at entry
    endorsement: Endorsement
    tag: Identifier


@pytest.fixture
def history(world, session) -> History:
    kept = animal_in(world, "in_captivity", chip=CHIP)
    tag = uses.add_identifier(world.operator, kept.id, "tag", "T-1")
    retired = uses.add_identifier(world.operator, kept.id, "closed_ring", "R-9")
    uses.retire_identifier(world.operator, retired.id, note="lost")
    dead = animal_in(world, "dead")
    animal_in(world, "seized")
    animal_in(world, "void", chip="900000000000222")  # its chip freed with it
    declared = declared_animal(world)
    birds = [animal_in(world, "in_captivity").id for _ in range(2)]
    t = uses.offer(world.actor("zoo"), {"animal_ids": birds, "facility_id": world.breeder_site})
    uses.transfer_event(world.actor("breeder"), "accept", code=t.code)
    transfer = uses.transfer_event(world.actor("officer"), "acknowledge", t.id)
    uses.register_birth(
        world.actor("zoo"),
        {"species_id": world.parrot, "facility_id": world.zoo_site, "dam_id": kept.id, "birth_date": "2026-01-02"},
    )
    uses.facility_event(
        world.actor("officer"), world.zoo_site, "change_capacity", {"allowances": {world.parrot: 6, world.python: 2}}
    )
    permit = permit_in(world, "partly_used")
    endorsement = session.query(Endorsement).filter_by(permit_id=permit.id).one()
    return History(kept, dead, declared, transfer, permit, endorsement, tag)


def _sql(session, sql: str, **params) -> None:
    session.execute(text(sql), params)
    session.expire_all()


def _found() -> list[str]:
    return [str(d) for d in reconcile()]


def test_legitimate_history_reconciles(history, session):
    assert audit.verify_database().ok
    assert _found() == []


def test_reconciles_in_small_batches(history, session):
    """Objects whose entries span batches are folded whole (entries are read per batch of objects)."""
    assert list(reconcile(batch=1)) == []
    _sql(session, "UPDATE animal SET name = 'Polly' WHERE id = :id", id=history.kept.id)
    assert [str(d) for d in reconcile(batch=2)] == [
        f"animal {history.kept.registry_no}: name is Polly in the table, the log says empty"
    ]


# ---------------------------------------------------------------- each kind of row, edited behind the app


def test_animal_owner_changed(history, session, world):
    _sql(session, "UPDATE animal SET owner_party_id = :p WHERE id = :id", p=world.breeder, id=history.kept.id)
    assert (
        f"animal {history.kept.registry_no}: owner_party_id is {world.breeder} in the table, the log says {world.zoo}"
        in _found()
    )


def test_animal_state_changed(history, session):
    _sql(session, "UPDATE animal SET state = 'exported' WHERE id = :id", id=history.dead.id)
    assert f"animal {history.dead.registry_no}: state is exported in the table, the log says dead" in _found()


def test_permit_line_quantity_changed(history, session):
    line = history.permit.lines[0]
    _sql(session, "UPDATE permit_line SET quantity = 30 WHERE id = :id", id=line.id)
    assert (
        f"permit_line {line.id} (line 1 of permit {history.permit.number}): quantity is 30 in the table, the log says 3"
        in _found()
    )


def test_cleared_endorsed_line_added(history, session):
    e, line = history.endorsement, history.permit.lines[0]
    _sql(
        session,
        "INSERT INTO endorsed_line (endorsement_id, line_id, quantity, outcome) VALUES (:e, :l, 2, 'cleared')",
        e=e.id,
        l=line.id,
    )
    added = session.query(EndorsedLine).filter_by(endorsement_id=e.id).order_by(EndorsedLine.id.desc()).first()
    assert f"endorsed_line {added.id} of endorsement {e.id}: no audit entry records it" in _found()


def test_endorsed_quantity_changed(history, session):
    (row,) = history.endorsement.lines
    _sql(session, "UPDATE endorsed_line SET quantity = 3 WHERE id = :id", id=row.id)
    assert (
        f"endorsed_line {row.id} of endorsement {history.endorsement.id}: quantity is 3 in the table, the log says 1"
        in _found()
    )


def _death(session, animal: Animal) -> AnimalEvent:
    return session.query(AnimalEvent).filter_by(animal_id=animal.id, event="death").one()


def test_death_date_rewritten_in_the_timeline(history, session):
    death = _death(session, history.dead)
    logged = death.occurred_on.isoformat()
    _sql(session, "UPDATE animal_event SET occurred_on = '2020-01-01' WHERE id = :id", id=death.id)
    assert (
        f"animal_event {death.id} (death of {history.dead.registry_no}): occurred_on is 2020-01-01 in the table, "
        f"the log says {logged}" in _found()
    )


def test_death_details_rewritten_in_the_timeline(history, session):
    death = _death(session, history.dead)
    _sql(session, """UPDATE animal_event SET details = '{"cause": "poison"}' WHERE id = :id""", id=death.id)
    (found,) = _found()
    assert found.startswith(f"animal_event {death.id} (death of {history.dead.registry_no}): details is")
    assert "poison" in found and "old age" in found


def test_timeline_row_added(history, session, world):
    _sql(
        session,
        """INSERT INTO animal_event (animal_id, event, from_state, to_state, occurred_on, recorded_at, actor_name,
                                     details)
           VALUES (:a, 'death', 'in_captivity', 'dead', '2026-01-01', '2026-01-01 00:00:00', 'x', '{}')""",
        a=history.kept.id,
    )
    added = session.query(AnimalEvent).filter_by(animal_id=history.kept.id).order_by(AnimalEvent.id.desc()).first()
    assert f"animal_event {added.id} (death of {history.kept.registry_no}): no audit entry records it" in _found()


def test_keeping_period_changed(history, session, world):
    owner = session.query(Keeping).filter_by(animal_id=history.kept.id, relation="owner").one()
    _sql(session, "UPDATE keeping SET party_id = :p WHERE id = :id", p=world.breeder, id=owner.id)
    assert (
        f"keeping {owner.id} (owner period of {history.kept.registry_no} since {owner.since}): "
        f"party_id is {world.breeder} in the table, the log says {world.zoo}" in _found()
    )


def test_keeping_period_deleted(history, session, world):
    holder = session.query(Keeping).filter_by(animal_id=history.kept.id, relation="holder").one()
    since = holder.since.isoformat()
    _sql(session, "DELETE FROM keeping WHERE id = :id", id=holder.id)
    assert (
        f"holder period of {history.kept.registry_no} since {since} (party {world.zoo}): "
        "the log implies it, but the table has no row" in _found()
    )


def test_keeping_period_inserted_twice(history, session, world):
    holder = session.query(Keeping).filter_by(animal_id=history.kept.id, relation="holder").one()
    _sql(
        session,
        "INSERT INTO keeping (animal_id, relation, party_id, facility_id, since, until, event_id) "
        "SELECT animal_id, relation, party_id, facility_id, since, until, event_id FROM keeping WHERE id = :id",
        id=holder.id,
    )
    copy = session.query(Keeping).filter_by(animal_id=history.kept.id, relation="holder").order_by(Keeping.id.desc())[0]
    assert copy.id != holder.id
    assert (
        f"keeping {copy.id} (holder period of {history.kept.registry_no} since {copy.since}): no audit entry records it"
        in _found()
    )


def test_identifier_value_changed(history, session):
    _sql(session, "UPDATE identifier SET value = 'T-2' WHERE id = :id", id=history.tag.id)
    assert (
        f"identifier {history.tag.id} (tag T-2 of {history.kept.registry_no}): value is T-2 in the table, "
        "the log says T-1" in _found()
    )


def test_chip_given_at_declaration_reactivated(history, session):
    """The marks a void declaration freed are logged as retired: making one active again shows."""
    freed = session.query(Identifier).filter_by(value="900000000000222").one()
    _sql(session, "UPDATE identifier SET active = TRUE, retired_on = NULL WHERE id = :id", id=freed.id)
    found = _found()
    assert any(f.startswith(f"identifier {freed.id} ") and "active is True" in f for f in found), found


# ---------------------------------------------------------------- marks recorded the older way


def _old_record_new(actor, animal, row, marks, subjects):
    """arrivals before marks had entries of their own: the marks only in the animal's entry."""
    audit.record(
        actor,
        f"animal.{row.event}",
        "animal",
        animal.id,
        None,
        animal.as_audit() | {"identifiers": [[m.kind, m.value] for m in marks]},
    )


def _old_marks_freed(named: bool):
    """Voiding before marks had entries of their own: the marks freed named in the event (*named*),
    or, older still, not at all."""

    def freed(session, ctx, row, details):
        marks = [ident for ident in ctx.animal.identifiers if ident.active]
        for ident in marks:
            ident.active, ident.retired_on = False, row.occurred_on
        if marks and named:
            row.details = {**row.details, "released_identifiers": [f"{i.kind} {i.value}" for i in marks]}

    return freed


@dataclass
class OldMarks:
    kept: Animal  # declared with a chip, a ring attached by hand
    voided: Animal  # its chip freed with it
    named: bool  # whether the void entry names the marks it freed


@pytest.fixture(params=[True, False], ids=["named", "unnamed"])
def old_marks(request, world, session, monkeypatch) -> OldMarks:
    """An animal declared with a chip and a ring, and one voided with its chip, written as the
    registry wrote them before marks had entries of their own; then the new code again."""
    monkeypatch.setattr(arrivals, "_record_new", _old_record_new)
    monkeypatch.setitem(animals.EVENTS, Void, EventSpec(effect=_old_marks_freed(request.param)))
    kept = declared_animal(world, chip=CHIP)
    uses.add_identifier(world.operator, kept.id, "closed_ring", "R-1")  # always had its entry
    voided = animal_in(world, "void", chip="900000000000222")
    monkeypatch.undo()
    return OldMarks(kept, voided, request.param)


def _marks(session, animal: Animal) -> list[Identifier]:
    return session.query(Identifier).filter_by(animal_id=animal.id).order_by(Identifier.id).all()


def test_marks_recorded_only_by_their_animal_reconcile(old_marks, session):
    (chip,) = _marks(session, old_marks.voided)
    assert not chip.active
    assert session.query(AuditEntry).filter_by(object_type="identifier", object_id=str(chip.id)).count() == 0
    assert _found() == []
    assert list(reconcile(batch=1)) == []


def test_mark_recorded_only_by_its_animal_changed(old_marks, session):
    kept = old_marks.kept
    chip, _ring = _marks(session, kept)
    _sql(session, "UPDATE identifier SET value = '900000000000999' WHERE id = :id", id=chip.id)
    assert _found() == [
        f"identifier {chip.id} (microchip 900000000000999 of {kept.registry_no}): "
        f"value is 900000000000999 in the table, the log says {CHIP}"
    ]
    _sql(session, "UPDATE identifier SET kind = 'tag', value = :v WHERE id = :id", v=CHIP, id=chip.id)
    assert _found() == [
        f"identifier {chip.id} (tag {CHIP} of {kept.registry_no}): kind is tag in the table, the log says microchip"
    ]


def test_mark_recorded_only_by_its_animal_moved(old_marks, session):
    kept, voided = old_marks.kept, old_marks.voided
    chip, _ring = _marks(session, kept)
    _sql(session, "UPDATE identifier SET animal_id = :a WHERE id = :id", a=voided.id, id=chip.id)
    found = _found()
    assert f"microchip {CHIP} of {kept.registry_no}: the log records it (entry " in found[0]
    assert found[0].endswith("but the table has no row")
    assert found[1:] == [f"identifier {chip.id} (microchip {CHIP} of {voided.registry_no}): no audit entry records it"]


def test_mark_freed_with_its_animal_reactivated(old_marks, session):
    voided = old_marks.voided
    (chip,) = _marks(session, voided)
    _sql(session, "UPDATE identifier SET active = TRUE, retired_on = NULL WHERE id = :id", id=chip.id)
    if not old_marks.named:
        # The entry does not say whether voiding freed marks then (it did not, at first): an active mark is accepted.
        assert _found() == []
    else:
        name = f"identifier {chip.id} (microchip 900000000000222 of {voided.registry_no})"
        assert _found() == [
            f"{name}: active is True in the table, the log says False",
            f"{name}: retired_on is empty in the table, the log says {_void_day(session, voided)}",
        ]


def test_mark_freed_retired_on_changed(old_marks, session):
    voided = old_marks.voided
    (chip,) = _marks(session, voided)
    _sql(session, "UPDATE identifier SET retired_on = '2020-01-01' WHERE id = :id", id=chip.id)
    assert _found() == [
        f"identifier {chip.id} (microchip 900000000000222 of {voided.registry_no}): "
        f"retired_on is 2020-01-01 in the table, the log says {_void_day(session, voided)}"
    ]


def test_mark_no_entry_mentions(old_marks, session):
    kept = old_marks.kept
    _sql(
        session,
        "INSERT INTO identifier (animal_id, kind, value, active, recorded_at) "
        "VALUES (:a, 'tag', 'T-9', TRUE, '2026-01-01 00:00:00')",
        a=kept.id,
    )
    added = _marks(session, kept)[-1]
    assert _found() == [f"identifier {added.id} (tag T-9 of {kept.registry_no}): no audit entry records it"]


def test_mark_recorded_only_by_its_animal_deleted(old_marks, session):
    kept = old_marks.kept
    chip, _ring = _marks(session, kept)
    _sql(session, "DELETE FROM identifier WHERE id = :id", id=chip.id)
    (found,) = _found()
    assert found.startswith(f"microchip {CHIP} of {kept.registry_no}: the log records it (entry ")


def _void_day(session, animal: Animal) -> str:
    return session.query(AnimalEvent).filter_by(animal_id=animal.id, event="void").one().occurred_on.isoformat()


def test_transfer_state_changed(history, session):
    _sql(session, "UPDATE transfer SET state = 'declined' WHERE id = :id", id=history.transfer.id)
    assert f"transfer {history.transfer.code}: state is declined in the table, the log says acknowledged" in _found()


def test_transfer_animal_list_changed(history, session):
    first, second = (a.id for a in history.transfer.animals)
    _sql(
        session, "DELETE FROM transfer_animal WHERE transfer_id = :t AND animal_id = :a", t=history.transfer.id, a=first
    )
    assert (
        f"transfer {history.transfer.code}: animals is [{second}] in the table, the log says [{first}, {second}]"
        in _found()
    )


def test_facility_capacity_changed(history, session, world):
    _sql(
        session,
        "UPDATE facility_species SET capacity = 99 WHERE facility_id = :f AND species_id = :s",
        f=world.zoo_site,
        s=world.parrot,
    )
    assert (
        f"facility_species (species {world.parrot} in facility F-ZOO): capacity is 99 in the table, the log says 6"
        in _found()
    )


def test_row_deleted_outright(history, session):
    animal_id, registry_no = history.declared.id, history.declared.registry_no
    for table in ("identifier", "animal_event"):
        _sql(session, f"DELETE FROM {table} WHERE animal_id = :id", id=animal_id)
    _sql(session, "DELETE FROM animal WHERE id = :id", id=animal_id)
    (found,) = _found()
    assert found.startswith(f"animal {registry_no}: the log records it (last in entry ")
    assert found.endswith("but the table has no row")


def test_row_inserted_without_entry(history, session, world):
    _sql(
        session,
        """INSERT INTO animal (registry_no, species_id, state, sex, birth_date_estimated, source_code,
                               owner_party_id, created_at, version)
           VALUES ('KR-A-2026-999999', :s, 'in_captivity', 'U', FALSE, 'C', :o, '2026-01-01 00:00:00', 1)""",
        s=world.parrot,
        o=world.zoo,
    )
    assert _found() == ["animal KR-A-2026-999999: no audit entry records it"]


# ---------------------------------------------------------------- the subject index


def _birth_seq(session, animal: Animal) -> int:
    """The birth entry of *animal*'s chick: it names the mother as a subject."""
    chick = session.query(Animal).filter_by(dam_id=animal.id).one()
    return session.scalar(
        select(AuditEntry.seq).where(AuditEntry.action == "animal.birth", AuditEntry.object_id == str(chick.id))
    )


def test_index_row_deleted(history, session):
    kept, seq = history.kept, _birth_seq(session, history.kept)
    _sql(
        session,
        "DELETE FROM audit_subject WHERE subject_type = 'animal' AND subject_id = :a AND seq = :s",
        a=str(kept.id),
        s=seq,
    )
    assert _found() == [
        f"audit_subject animal {kept.id} -> entry {seq}: entry {seq} names animal {kept.id} but the index lacks it"
    ]


def test_index_row_added(history, session):
    dead = history.dead.id
    seq = _birth_seq(session, history.kept)
    head = session.scalar(select(func.max(AuditEntry.seq)))
    for at in (seq, head + 5):
        _sql(
            session,
            "INSERT INTO audit_subject (subject_type, subject_id, seq) VALUES ('animal', :a, :s)",
            a=str(dead),
            s=at,
        )
    assert _found() == [
        f"audit_subject animal {dead} -> entry {seq}: the index has it, but entry {seq} does not name animal {dead}",
        f"audit_subject animal {dead} -> entry {head + 5}: the index has it, but there is no entry {head + 5}",
    ]
    assert [str(d) for d in reconcile(batch=1)] == _found()


def test_index_of_entries_older_than_subjects(world, session, monkeypatch):
    """Entries written before they named subjects are indexed by their object (the migration's backfill)."""

    def backfilled(entry, named, latest):
        entry.subjects = None
        return [] if entry.object_id is None else [(entry.object_type, entry.object_id)]

    monkeypatch.setattr(audit, "link_subjects", backfilled)
    animal = declared_animal(world, chip=CHIP)
    monkeypatch.undo()
    uses.fire(world.operator, animal.id, "enter", {"port": "ICN"})
    first = session.scalar(
        select(func.min(AuditEntry.seq)).where(
            AuditEntry.object_type == "animal", AuditEntry.object_id == str(animal.id)
        )
    )
    assert session.get(AuditEntry, first).subjects is None
    assert _found() == []
    _sql(session, "DELETE FROM audit_subject WHERE seq = :s", s=first)
    assert _found() == [
        f"audit_subject animal {animal.id} -> entry {first}: entry {first} names animal {animal.id} "
        "but the index lacks it"
    ]


# ---------------------------------------------------------------- the command


def test_cli_exit_codes(app, history, session, world):
    runner = app.test_cli_runner()
    clean = runner.invoke(reconcile_audit)
    assert clean.exit_code == 0 and "no row differs" in clean.output, clean.output
    full = runner.invoke(verify_audit, ["--full"])
    assert full.exit_code == 0 and "audit chain intact" in full.output and "no row differs" in full.output
    plain = runner.invoke(verify_audit)
    assert plain.exit_code == 0 and "reconcile" not in plain.output

    _sql(session, "UPDATE animal SET owner_party_id = :p WHERE id = :id", p=world.breeder, id=history.kept.id)
    differs = runner.invoke(reconcile_audit)
    assert differs.exit_code == 1 and f"animal {history.kept.registry_no}: owner_party_id" in differs.output
    assert "1 difference" in differs.output
    full = runner.invoke(verify_audit, ["--full"])
    # The chain is intact, the table is not: --full fails, verify alone does not see it.
    assert full.exit_code == 1 and "audit chain intact" in full.output and "owner_party_id" in full.output
    assert runner.invoke(verify_audit).exit_code == 0


def test_cli_full_keeps_the_key_rule(app, session, world, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", str(tmp_path / "absent.pem"))
    refused = app.test_cli_runner().invoke(verify_audit, ["--full"])
    assert refused.exit_code == 2 and "reconcile" not in refused.output


# ---------------------------------------------------------------- the pure part


def test_fold_keeps_changed_keys_and_restarts_at_creation():
    entries = [
        Entry(1, "x.create", None, {"a": 1, "b": 2}),
        Entry(2, "x.change", {"a": 1}, {"a": 3, "extra": True}),
    ]
    assert fold(entries) == {"a": 3, "b": 2, "extra": True}
    assert list(mismatches({"a": 4, "b": 2, "c": 9}, fold(entries))) == [("a", 4, 3)]


def test_keepers_replay_place_and_release():
    k = Keepers()
    k.keep({"owner_party_id": 1, "holder_party_id": 1, "facility_id": 10}, "2026-01-01", 1)
    k.keep({"owner_party_id": 1, "holder_party_id": 2, "facility_id": 20}, "2026-02-01", 2)
    k.keep({"owner_party_id": 1, "holder_party_id": None, "facility_id": None}, "2026-03-01", 3)
    assert [(p.relation, p.party_id, p.facility_id, p.since, p.until, p.event_id) for p in k.periods] == [
        ("owner", 1, None, "2026-01-01", None, 1),
        ("holder", 1, 10, "2026-01-01", "2026-02-01", 1),
        ("holder", 2, 20, "2026-02-01", "2026-03-01", 2),
    ]


def test_an_entry_the_application_never_wrote_is_named_not_a_traceback(app, history, session):
    """A superuser's entry whose after is no object (the chain check names the entry itself)."""
    from tests.test_audit import _bypass_triggers

    _bypass_triggers(session)
    seq = session.scalar(
        select(func.max(AuditEntry.seq)).where(
            AuditEntry.object_type == "animal", AuditEntry.object_id == str(history.kept.id)
        )
    )
    _sql(session, "UPDATE audit_entry SET after = '[1, 2]' WHERE seq = :seq", seq=seq)
    assert any(history.kept.registry_no in found for found in _found())
    result = app.test_cli_runner().invoke(verify_audit, ["--full"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"entry {seq}" in result.output
