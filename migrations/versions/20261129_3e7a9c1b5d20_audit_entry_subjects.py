"""audit entries name every subject they concern, linked to its previous entry; an index of them

Revision ID: 3e7a9c1b5d20
Revises: 9b8e4c2d1f07
Create Date: 2026-11-29 16:10:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '3e7a9c1b5d20'
down_revision = '9b8e4c2d1f07'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE, not a batch copy: recreating audit_entry on SQLite would drop its triggers.
    # Existing entries keep subjects NULL: it is hashed, and their hashes must not change.
    op.add_column(
        'audit_entry',
        sa.Column('subjects', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=True),
    )
    op.create_table('audit_subject',
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('subject_type', 'subject_id', 'seq', name=op.f('pk_audit_subject'))
    )
    # The index is not hashed: older entries are indexed by the object they name, so a subject's
    # first new entry links back to its last old one.
    op.execute(
        "INSERT INTO audit_subject (subject_type, subject_id, seq) "
        "SELECT object_type, object_id, seq FROM audit_entry WHERE object_id IS NOT NULL"
    )


def downgrade():
    op.drop_table('audit_subject')
    op.drop_column('audit_entry', 'subjects')
