"""search indexes: pg_trgm GIN for q=, (column, id) for the equality filters

Revision ID: 7c1e5a9b3d20
Revises: 4990fe1942fe
Create Date: 2026-12-01 19:00:00

Why: at 1,000,000 invoices ``q=`` and several filters read the whole table (0.2-1 s per list call).
The (column, id) B-trees serve ``WHERE column = x ORDER BY id DESC LIMIT n`` by reading the index
backwards (both databases). The trigram GIN indexes exist only on PostgreSQL: SQLite skips them.

pg_trgm is created in ``public`` when no schema of the database has it yet (never in the first schema
of the search_path, which for the tests is a throwaway schema dropped with CASCADE, extension
included); the operator class is then named with the schema it lives in, so the indexes build
whatever the search_path. The downgrade leaves the extension: other schemas of the database may use it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e5a9b3d20'
down_revision = '4990fe1942fe'
branch_labels = None
depends_on = None

EQUALITY = ('provider_nit', 'cost_type', 'provision_status', 'billing_status', 'assignment_method', 'needs_review')
REPLACED = ('cost_type', 'provision_status', 'billing_status', 'needs_review')  # single-column, now (column, id)
NEW_SINGLE = ('amount', 'provision_date', 'billing_date')
TRIGRAM = (
    ('invoices', 'invoice_number'),
    ('invoices', 'provider_nit'),
    ('invoices', 'notes'),
    ('providers', 'name'),
    ('ots', 'ot_number'),
    ('ots', 'master_bl'),
    ('ots', 'vessel'),
    ('clients', 'name'),
)
# Range filters (dates, amounts) with ORDER BY id LIMIT n: the planner walks the id index unless it knows the
# range is rare. 1000-bucket histograms (default 100) let it see that (billing_date_to=2025-11-15 at 1M rows:
# a 165k-row walk, 39 ms, became a 275-row bitmap scan, 8 ms). PostgreSQL only; not part of the models.
FINE_STATISTICS = ('issue_date', 'due_date', 'provision_date', 'billing_date', 'created_at', 'amount')
# The OT search matches the JSON list of containers as text: an expression index (app.models, after Ot).
CONTAINERS_INDEX = 'ix_ots_containers_trgm'



def _trigram_schema() -> str:
    bind = op.get_bind()
    found = bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    )).scalar()
    if found is None:
        bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public'))
        found = 'public'
    return found


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(f'ix_invoices_{name}')
        for name in EQUALITY:
            batch_op.create_index(f'ix_invoices_{name}_id', [name, 'id'], unique=False)
        for name in NEW_SINGLE:
            batch_op.create_index(f'ix_invoices_{name}', [name], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        opclass = f'{_trigram_schema()}.gin_trgm_ops'
        for table, column in TRIGRAM:
            op.create_index(
                f'ix_{table}_{column}_trgm', table, [column], unique=False,
                postgresql_using='gin', postgresql_ops={column: opclass},
            )
        op.execute(f'CREATE INDEX {CONTAINERS_INDEX} ON ots USING gin ((CAST(containers AS VARCHAR)) {opclass})')
        columns = ', '.join(f'ALTER COLUMN {name} SET STATISTICS 1000' for name in FINE_STATISTICS)
        op.execute(f'ALTER TABLE invoices {columns}')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        columns = ', '.join(f'ALTER COLUMN {name} SET STATISTICS -1' for name in FINE_STATISTICS)
        op.execute(f'ALTER TABLE invoices {columns}')
        op.drop_index(CONTAINERS_INDEX, table_name='ots')
        for table, column in TRIGRAM:
            op.drop_index(f'ix_{table}_{column}_trgm', table_name=table)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        for name in NEW_SINGLE:
            batch_op.drop_index(f'ix_invoices_{name}')
        for name in EQUALITY:
            batch_op.drop_index(f'ix_invoices_{name}_id')
        for name in REPLACED:
            batch_op.create_index(f'ix_invoices_{name}', [name], unique=False)
