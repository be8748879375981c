"""background exports: the export_jobs table (request, owner, progress, result, timestamps)

Revision ID: b7a41e0c9d55
Revises: 4e8b1d7a6f35
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7a41e0c9d55'
down_revision = '4e8b1d7a6f35'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'export_jobs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('owner', sa.String(length=200), nullable=False),
        sa.Column('resource', sa.String(length=32), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('request', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('rows_estimate', sa.BigInteger(), nullable=True),
        sa.Column('rows_written', sa.BigInteger(), nullable=False),
        sa.Column('bytes_written', sa.BigInteger(), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('result_key', sa.String(length=300), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('partial_key', sa.String(length=300), nullable=True),
        sa.Column('upload_id', sa.String(length=1024), nullable=True),
        sa.Column('worker_pid', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_export_jobs_token_id_api_tokens')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_jobs_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs')),
    )
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_jobs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_jobs_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_jobs_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_jobs_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_jobs_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_jobs_user_id'))
        batch_op.drop_index(batch_op.f('ix_export_jobs_token_id'))
        batch_op.drop_index(batch_op.f('ix_export_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_export_jobs_expires_at'))
        batch_op.drop_index(batch_op.f('ix_export_jobs_created_at'))
    op.drop_table('export_jobs')
