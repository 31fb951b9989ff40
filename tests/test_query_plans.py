"""The audit search by animal, the animal search and the offspring query read indexes, not whole tables.

The shape test runs everywhere: the animal filter's condition names the subjects as values, so no
subquery hides them from the planner. The plan tests run on PostgreSQL only (when
REGISTRY_TEST_DATABASE_URL is set): tables filled with enough rows, analysed, and the plan asked
for with the planner's ordinary settings (no enable_seqscan tricks).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from registry.extensions import db
from registry.models import Animal, AuditEntry
from registry.services import history
from registry.views.animals import offspring_of, search
from tests.helpers import animal_in

ROWS = 20000


def _sql(query) -> str:
    return str(query.compile(dialect=db.session.get_bind().dialect, compile_kwargs={"literal_binds": True}))


def test_the_animal_filter_names_its_subjects_as_values(world, session):
    """One subquery (audit_subject by its primary key), nothing about animals or identifiers in it."""
    bird = animal_in(world, "in_captivity", chip="410000000000123")
    sql = _sql(history.query({"animal": bird.registry_no}))
    assert sql.count("SELECT") == 2, sql
    assert "FROM animal" not in sql and "FROM identifier" not in sql, sql
    assert f"'{bird.id}'" in sql
    # A mark, typed with spaces, finds the same animal (identifiers are matched by their key).
    assert f"'{bird.id}'" in _sql(history.query({"animal": "410 000 000 000 123"}))


def _plan(query) -> str:
    return "\n".join(db.session.execute(text("EXPLAIN " + _sql(query).replace("%", "%%"))).scalars())


@pytest.fixture
def postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a plan is PostgreSQL's; the query's shape is checked on every backend")
    return session


def test_postgresql_audit_search_by_animal_reads_the_subject_index(world, postgresql):
    bird = animal_in(world, "in_captivity")
    # A log of ROWS entries about other animals, and their subjects: enough for the plan to matter.
    postgresql.execute(
        text(
            "INSERT INTO audit_entry (seq, occurred_at, actor_name, actor_role, action, object_type, object_id,"
            " prev_hash, entry_hash) SELECT 1000000 + g, now(), 'x', 'system', 'animal.enter', 'animal',"
            " (900000 + g % 5000)::text, repeat('0', 64), md5(g::text) || md5((-g)::text)"
            " FROM generate_series(1, :n) g"
        ),
        {"n": ROWS},
    )
    postgresql.execute(
        text(
            "INSERT INTO audit_subject (subject_type, subject_id, seq)"
            " SELECT 'animal', (900000 + g % 5000)::text, 1000000 + g FROM generate_series(1, :n) g"
        ),
        {"n": ROWS},
    )
    postgresql.execute(text("ANALYZE audit_entry"))
    postgresql.execute(text("ANALYZE audit_subject"))
    page = history.query({"animal": bird.registry_no}).order_by(AuditEntry.seq.desc()).limit(100)
    plan = _plan(page)
    assert "pk_audit_subject" in plan, plan
    assert "Seq Scan" not in plan and "Index Scan Backward" not in plan, plan
    # And it finds the bird's own entries (its declaration, entry, registration).
    assert len(postgresql.scalars(page).all()) >= 3


def test_postgresql_offspring_are_read_by_the_parent_indexes(world, postgresql):
    dam = animal_in(world, "in_captivity")
    postgresql.execute(
        text(
            "INSERT INTO animal (registry_no, species_id, state, sex, birth_date_estimated, source_code, created_at,"
            " version) SELECT 'KR-P-' || g, :species, 'in_captivity', 'F', false, 'C', now(), 1"
            " FROM generate_series(1, :n) g"
        ),
        {"n": ROWS, "species": world.parrot},
    )
    postgresql.execute(text("ANALYZE animal"))
    plan = _plan(offspring_of(dam.id))
    assert "ix_animal_sire_id" in plan and "ix_animal_dam_id" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_postgresql_animal_search_by_microchip_reads_indexes(world, postgresql, client):
    bird = animal_in(world, "in_captivity", chip="410000000000321")
    postgresql.execute(
        text(
            "INSERT INTO animal (registry_no, species_id, state, sex, birth_date_estimated, source_code, created_at,"
            " version) SELECT 'KR-P-' || g, :species, 'in_captivity', 'F', false, 'C', now(), 1"
            " FROM generate_series(1, :n) g"
        ),
        {"n": ROWS, "species": world.python},
    )
    postgresql.execute(
        text(
            "INSERT INTO identifier (animal_id, kind, value, value_key, active, recorded_at)"
            " SELECT id, 'microchip', '9' || id, '9' || id, true, now() FROM animal WHERE registry_no LIKE 'KR-P-%'"
        )
    )
    postgresql.execute(text("ANALYZE animal"))
    postgresql.execute(text("ANALYZE identifier"))
    with client.application.test_request_context():
        for q in ("410 000 000 000 321", "41000000"):
            query = select(Animal).where(search(q)).order_by(Animal.id.desc()).limit(51)
            plan = _plan(query)
            assert "Seq Scan on animal" not in plan and "Seq Scan on identifier" not in plan, plan
            assert postgresql.scalars(query).all() == [bird]


def test_postgresql_late_death_rule_starts_from_recent_deaths(world, postgresql):
    """The late-death rule reads the deaths recorded lately by (event, recorded_at), not every
    animal's events one animal at a time."""
    from registry import deadlines as rules
    from registry.services import deadlines

    postgresql.execute(
        text(
            "INSERT INTO animal (registry_no, species_id, state, sex, birth_date_estimated, source_code, created_at,"
            " version) SELECT 'KR-D-' || g, :species, 'in_captivity', 'F', false, 'C', now(), 1"
            " FROM generate_series(1, :n) g"
        ),
        {"n": ROWS, "species": world.parrot},
    )
    postgresql.execute(
        text(
            "INSERT INTO animal_event (animal_id, event, from_state, to_state, occurred_on, recorded_at, actor_name,"
            " details) SELECT id, CASE WHEN id % 50 = 0 THEN 'death' ELSE 'enter' END, 'declared', 'entered',"
            " date '2020-01-01', timestamptz '2020-01-02', 'x', '{}' FROM animal WHERE registry_no LIKE 'KR-D-%'"
        )
    )
    postgresql.execute(text("ANALYZE animal"))
    postgresql.execute(text("ANALYZE animal_event"))
    plan = _plan(deadlines.rule_query(world.actor("officer"), rules.BY_CODE["death_report"]))
    assert "ix_animal_event_event_recorded_at" in plan, plan
    assert "Seq Scan on animal_event" not in plan and "Seq Scan on animal " not in plan, plan
