"""indexes for the pages and searches that grew with the register (issue #13)

Revision ID: e5b1c9d3f2a8
Revises: 4d8e2b7a1c60
Create Date: 2026-12-07 10:00:00

- animal.sire_id, animal.dam_id: the animal page lists offspring by them (was a scan of every animal);
- animal.registry_no with varchar_pattern_ops (PostgreSQL; a plain index elsewhere): the search
  matches a registry number by its beginning;
- identifier.value_key: each mark's value upper-cased without spaces or separators, indexed (with
  varchar_pattern_ops on PostgreSQL, so a prefix LIKE uses it): the animal search matches it
  exactly or by its beginning instead of a substring scan. Filled in here for existing rows;
- animal_event (event, occurred_on) and (event, recorded_at): the dashboard's monthly counts and
  the late-death rule start from the events of one kind; (to_state, animal_id, occurred_on): the
  follow-up deadline rules read when each animal entered its state from the index alone.
"""
from alembic import op
import sqlalchemy as sa

import registry.models.base  # noqa: F401  (convention: migrations import the column types' module)


# revision identifiers, used by Alembic.
revision = 'e5b1c9d3f2a8'
down_revision = '4d8e2b7a1c60'
branch_labels = None
depends_on = None

#: As registry.models.animal.identifier_key, frozen here: a migration must not change with the code.
_SEPARATORS = str.maketrans("", "", " \t-./_:")


def upgrade():
    with op.batch_alter_table('animal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_animal_sire_id'), ['sire_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_animal_dam_id'), ['dam_id'], unique=False)
        batch_op.create_index('ix_animal_registry_no_prefix', ['registry_no'], unique=False,
                              postgresql_ops={'registry_no': 'varchar_pattern_ops'})
    with op.batch_alter_table('animal_event', schema=None) as batch_op:
        batch_op.create_index('ix_animal_event_event_occurred_on', ['event', 'occurred_on'], unique=False)
        batch_op.create_index('ix_animal_event_event_recorded_at', ['event', 'recorded_at'], unique=False)
        batch_op.create_index('ix_animal_event_to_state', ['to_state', 'animal_id', 'occurred_on'], unique=False)

    with op.batch_alter_table('identifier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value_key', sa.String(length=150), nullable=True))
    identifier = sa.table('identifier', sa.column('id', sa.Integer), sa.column('value', sa.String),
                          sa.column('value_key', sa.String))
    conn = op.get_bind()
    last = 0
    while True:  # in batches: a large register is not read into memory at once
        rows = conn.execute(
            sa.select(identifier.c.id, identifier.c.value)
            .where(identifier.c.id > last).order_by(identifier.c.id).limit(5000)
        ).all()
        if not rows:
            break
        conn.execute(
            identifier.update().where(identifier.c.id == sa.bindparam('ident')).values(value_key=sa.bindparam('key')),
            [{'ident': r.id, 'key': r.value.translate(_SEPARATORS).upper()} for r in rows],
        )
        last = rows[-1].id
    with op.batch_alter_table('identifier', schema=None) as batch_op:
        batch_op.create_index('ix_identifier_value_key', ['value_key'], unique=False,
                              postgresql_ops={'value_key': 'varchar_pattern_ops'})


def downgrade():
    with op.batch_alter_table('identifier', schema=None) as batch_op:
        batch_op.drop_index('ix_identifier_value_key')
        batch_op.drop_column('value_key')
    with op.batch_alter_table('animal_event', schema=None) as batch_op:
        batch_op.drop_index('ix_animal_event_to_state')
        batch_op.drop_index('ix_animal_event_event_recorded_at')
        batch_op.drop_index('ix_animal_event_event_occurred_on')
    with op.batch_alter_table('animal', schema=None) as batch_op:
        batch_op.drop_index('ix_animal_registry_no_prefix')
        batch_op.drop_index(batch_op.f('ix_animal_dam_id'))
        batch_op.drop_index(batch_op.f('ix_animal_sire_id'))
