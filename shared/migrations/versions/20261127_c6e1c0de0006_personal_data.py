"""personal data rights (erasure, consent)

Revision ID: c6e1c0de0006
Revises: b5e1c0de0005
Create Date: 2026-11-27 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c6e1c0de0006'
down_revision = 'b5e1c0de0005'
branch_labels = None
depends_on = None

# The audit log is append-only in the database too, not only by the application's habit.
# PostgreSQL refuses UPDATE always and DELETE unless the transaction set
# jejak.allow_audit_purge (only the test fixture that empties every table does; see
# docs/decisions.md). SQLite refuses UPDATE; its tests empty the table with DELETE.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION jejak_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND coalesce(current_setting('jejak.allow_audit_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION jejak_audit_log_append_only()
"""
SQLITE_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only (UPDATE refused)');
END
"""


def upgrade() -> None:
    op.add_column('alumni', sa.Column('consent_withdrawn_source', sa.String(length=32),
                                      nullable=True))
    op.create_index(op.f('ix_audit_log_actor'), 'audit_log', ['actor'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute('DROP TRIGGER IF EXISTS audit_log_append_only'
               + (' ON audit_log' if op.get_bind().dialect.name == 'postgresql' else ''))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS jejak_audit_log_append_only()')
    op.drop_index(op.f('ix_audit_log_actor'), table_name='audit_log')
    with op.batch_alter_table('alumni', schema=None) as batch_op:
        batch_op.drop_column('consent_withdrawn_source')
