"""accounts and write API: users, token owners/expiry/last use, the four roles, record versions, history

Existing ``user`` tokens become ``jefe_operaciones`` (what they could do before: import, intake,
assign); ``admin`` tokens stay admin. Every editable record gets ``version`` = 1.

Revision ID: 9d4f3a6c2b18
Revises: 5b7e2c91d0aa
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9d4f3a6c2b18'
down_revision = '5b7e2c91d0aa'
branch_labels = None
depends_on = None

VERSIONED = ("clients", "providers", "cost_types", "ots", "invoices")


def upgrade():
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('display_name', sa.String(length=200), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('session_version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
        sa.UniqueConstraint('email', name=op.f('uq_users_email')),
        sa.UniqueConstraint('username', name=op.f('uq_users_username')),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.String(length=10), type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_tokens_user_id_users'), 'users', ['user_id'], ['id'])
    op.execute("UPDATE api_tokens SET role = 'jefe_operaciones' WHERE role = 'user'")
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.create_table(
        'history',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resource', sa.String(length=32), nullable=False),
        sa.Column('record_id', sa.BigInteger(), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_history_token_id_api_tokens')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_history_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_history')),
    )
    with op.batch_alter_table('history', schema=None) as batch_op:
        batch_op.create_index('ix_history_resource_record', ['resource', 'record_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_history_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_history_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('history')
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
    op.execute("UPDATE api_tokens SET role = 'user' WHERE role <> 'admin'")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_tokens_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('user_id')
        batch_op.alter_column('role', existing_type=sa.String(length=20), type_=sa.String(length=10),
                              existing_nullable=False)
    op.drop_table('users')
