"""users.language: the language a person chose for the web app (es or en); NULL follows the browser

Revision ID: 4e8b1d7a6f35
Revises: 9d4f3a6c2b18
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '4e8b1d7a6f35'
down_revision = '9d4f3a6c2b18'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
