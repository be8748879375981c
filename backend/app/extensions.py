"""Flask extensions, created unbound so the factory can attach them to each app.

Flask-Migrate is not here: it is created in the factory only when the ``flask db`` commands are wanted,
because importing it (and Alembic) costs memory a gunicorn tree never uses (the "Flask-Migrate imported"
row of bench/RESULTS.md).
"""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

# Stable constraint names make Alembic migrations reproducible on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
