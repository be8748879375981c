"""team workflow: the OT as the team keeps it, cost-type catalog, team vocabularies, import memory

Existing rows are kept and their codes mapped to the team's: OT statuses, provider types, cost types,
provision states (reversed -> voided) and billing (paid -> billed + payment paid).

Revision ID: 5b7e2c91d0aa
Revises: 7c1e5a9b3d20
Create Date: 2026-12-01 19:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5b7e2c91d0aa'
down_revision = '7c1e5a9b3d20'
branch_labels = None
depends_on = None

COST_CATEGORIES = {
    "MARITIMO": "Marítimo",
    "TERRESTRE": "Terrestre",
    "ADUANAL": "Aduanal",
    "ALMACENAJE": "Almacenaje",
    "OTRO": "Otro",
}
COST_TYPES = (  # code, name, category, linked to the OT's provision/billing, order
    ("FLETE", "Flete", "MARITIMO", True, 1),
    ("CARGOS_NAVIERA", "Cargos de naviera", "MARITIMO", True, 2),
    ("TRANSPORTE", "Transporte", "TERRESTRE", False, 3),
    ("ADUANA", "Aduana", "ADUANAL", False, 4),
    ("ALMACENAJE", "Almacenaje", "ALMACENAJE", False, 5),
    ("DEMORA", "Demora", "MARITIMO", False, 6),
    ("OTRO", "Otro", "OTRO", False, 7),
)
OLD_COST_TYPES = {
    "ocean_freight": "FLETE",
    "local_charges": "CARGOS_NAVIERA",
    "customs": "ADUANA",
    "trucking": "TRANSPORTE",
    "storage": "ALMACENAJE",
    "demurrage": "DEMORA",
    "other": "OTRO",
}
OLD_OT_STATUSES = {
    "open": "transito",
    "in_transit": "transito",
    "arrived": "puerto",
    "closed": "cerrada",
    "cancelled": "cerrada",
}
OLD_PROVIDER_TYPES = {
    "carrier": "naviera",
    "customs_agent": "agencia_aduanal",
    "trucking": "transportista",
    "other": "otro",
}


def _trigram_schema() -> str:
    """Where pg_trgm lives (the search-index migration created it): its operator class is named with it."""
    return op.get_bind().execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    )).scalar_one()


def _remap(table: str, column: str, mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        op.execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old").bindparams(old=old, new=new))


def _seed_catalog() -> None:
    categories = sa.table("cost_categories", sa.column("id", sa.Integer), sa.column("code"), sa.column("name"))
    op.bulk_insert(categories, [{"id": i, "code": c, "name": n} for i, (c, n) in enumerate(COST_CATEGORIES.items(), 1)])
    ids = {code: i for i, code in enumerate(COST_CATEGORIES, 1)}
    types = sa.table(
        "cost_types",
        sa.column("code"), sa.column("name"), sa.column("category_id", sa.Integer),
        sa.column("linked_to_ot", sa.Boolean), sa.column("active", sa.Boolean), sa.column("display_order", sa.Integer),
    )
    op.bulk_insert(types, [
        {"code": c, "name": n, "category_id": ids[cat], "linked_to_ot": linked, "active": True, "display_order": order}
        for c, n, cat, linked, order in COST_TYPES
    ])
    if op.get_bind().dialect.name == "postgresql":  # explicit ids above leave the sequence behind
        op.execute("SELECT setval(pg_get_serial_sequence('cost_categories', 'id'), (SELECT max(id) FROM cost_categories))")


def upgrade():
    op.create_table('cost_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_cost_categories_code'))
    )
    op.create_table('cost_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('linked_to_ot', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('display_order', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['cost_categories.id'], name=op.f('fk_cost_types_category_id_cost_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_types')),
    sa.UniqueConstraint('code', name=op.f('uq_cost_types_code'))
    )
    with op.batch_alter_table('cost_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_types_category_id'), ['category_id'], unique=False)
    _seed_catalog()

    op.create_table('client_resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('normalized_name', sa.String(length=200), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_resolutions_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_resolutions')),
    sa.UniqueConstraint('normalized_name', name=op.f('uq_client_resolutions_normalized_name'))
    )
    with op.batch_alter_table('client_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_resolutions_client_id'), ['client_id'], unique=False)

    op.create_table('imported_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_files')),
    sa.UniqueConstraint('sha256', name=op.f('uq_imported_files_sha256'))
    )
    op.create_table('extraction_patterns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('pattern', sa.Text(), nullable=False),
    sa.Column('priority', sa.Integer(), server_default='100', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_extraction_patterns_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction_patterns'))
    )
    with op.batch_alter_table('extraction_patterns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_patterns_provider_id'), ['provider_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nrc', sa.String(length=32), nullable=True))
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nrc', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('credit_days', sa.Integer(), server_default='0', nullable=False))
    _remap('providers', 'type', OLD_PROVIDER_TYPES)

    with op.batch_alter_table('ots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('house_bls', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('operativo', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('operation_type', sa.String(length=12), server_default='importacion', nullable=False))
        batch_op.add_column(sa.Column('shipment_type', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('origin_port', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('destination_port', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('etd', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('arrival_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('provision_status', sa.String(length=20), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('provision_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('billing_status', sa.String(length=20), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('billing_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('billing_request_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('invoice_reception_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('express_release_type', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('express_release_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('cash_on_delivery_type', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('cash_on_delivery_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closing_sent_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('comments', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('field_sources', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_ots_operativo'), ['operativo'], unique=False)
    op.execute("UPDATE ots SET house_bls = '[]', field_sources = '{}'")
    with op.batch_alter_table('ots', schema=None) as batch_op:
        batch_op.alter_column('house_bls', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('field_sources', existing_type=sa.JSON(), nullable=False)
    _remap('ots', 'status', OLD_OT_STATUSES)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applicable_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('control_number', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('generation_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('detected_references', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('payment_status', sa.String(length=20), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('payment_date', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_invoices_generation_code'), ['generation_code'], unique=False)
        batch_op.create_index('ix_invoices_payment_status_id', ['payment_status', 'id'], unique=False)
    op.execute("UPDATE invoices SET detected_references = '{}', applicable_amount = amount")
    op.execute("UPDATE invoices SET payment_status = 'paid', amount_paid = amount, billing_status = 'billed' "
               "WHERE billing_status = 'paid'")
    _remap('invoices', 'provision_status', {"reversed": "voided"})
    _remap('invoices', 'cost_type', OLD_COST_TYPES)
    op.execute("UPDATE invoices SET cost_type = 'OTRO' WHERE cost_type NOT IN (SELECT code FROM cost_types)")
    if op.get_bind().dialect.name == 'postgresql':  # the OT search's new fields, as the others (app.models)
        opclass = f'{_trigram_schema()}.gin_trgm_ops'
        op.create_index('ix_ots_operativo_trgm', 'ots', ['operativo'], unique=False,
                        postgresql_using='gin', postgresql_ops={'operativo': opclass})
        op.execute(f'CREATE INDEX ix_ots_house_bls_trgm ON ots USING gin ((CAST(house_bls AS VARCHAR)) {opclass})')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.alter_column('detected_references', existing_type=sa.JSON(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_invoices_cost_type_cost_types'), 'cost_types', ['cost_type'], ['code'])
        batch_op.create_unique_constraint('uq_invoices_provider_number', ['provider_id', 'invoice_number'])


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_ots_house_bls_trgm', table_name='ots')
        op.drop_index('ix_ots_operativo_trgm', table_name='ots')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint('uq_invoices_provider_number', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_invoices_cost_type_cost_types'), type_='foreignkey')
    _remap('invoices', 'cost_type', {new: old for old, new in OLD_COST_TYPES.items()})
    _remap('invoices', 'provision_status', {"voided": "reversed", "in_review": "pending", "disputed": "pending",
                                            "partially_voided": "reversed", "rejected": "reversed"})
    op.execute("UPDATE invoices SET billing_status = 'paid' WHERE payment_status = 'paid'")
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_payment_status_id')
        batch_op.drop_index(batch_op.f('ix_invoices_generation_code'))
        for column in ('payment_date', 'payment_status', 'detected_references', 'generation_code', 'control_number',
                       'amount_paid', 'applicable_amount'):
            batch_op.drop_column(column)

    _remap('ots', 'status', {"transito": "in_transit", "puerto": "arrived", "cerrada": "closed",
                             "finalizada": "closed", "almacenadora": "arrived", "bodega": "arrived",
                             "desprendimiento": "arrived", "disputa": "open", "en_rada": "in_transit",
                             "fact_adicionales": "closed"})
    with op.batch_alter_table('ots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ots_operativo'))
        for column in ('row_hash', 'field_sources', 'comments', 'closing_sent_date', 'cash_on_delivery_date',
                       'cash_on_delivery_type', 'express_release_date', 'express_release_type',
                       'invoice_reception_date', 'billing_request_date', 'billing_date', 'billing_status',
                       'provision_date', 'provision_status', 'arrival_date', 'etd', 'destination_port',
                       'origin_port', 'shipment_type', 'operation_type', 'operativo', 'house_bls'):
            batch_op.drop_column(column)

    _remap('providers', 'type', {"naviera": "carrier", "agencia_aduanal": "customs_agent",
                                 "transportista": "trucking", "agente_local": "other", "agente_origen": "other",
                                 "aseguradora": "other", "aerolinea": "other", "consolidadora": "other",
                                 "almacenadora": "other", "otro": "other"})
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_column('credit_days')
        batch_op.drop_column('nrc')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('nrc')

    with op.batch_alter_table('extraction_patterns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_patterns_provider_id'))
    op.drop_table('extraction_patterns')
    op.drop_table('imported_files')
    with op.batch_alter_table('client_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_resolutions_client_id'))
    op.drop_table('client_resolutions')
    with op.batch_alter_table('cost_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cost_types_category_id'))
    op.drop_table('cost_types')
    op.drop_table('cost_categories')
