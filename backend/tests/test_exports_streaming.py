"""Exports stream for real: bytes leave while the cursor is still being read, and real gunicorn serves them.

The spy is the database driver itself: every connection is opened with a cursor class that counts the
rows it has received from the database (a client-side psycopg2 cursor receives all of them at
``execute``, a server-side one per ``FETCH``; sqlite3 steps rows as they are fetched). Nothing here
measures time.
"""

from __future__ import annotations

import io
import os
import sqlite3
import threading
import time
import zipfile

import psycopg2.extensions
import pytest
import requests
from sqlalchemy import create_engine, event, text

from app.cli.seed import seed
from app.extensions import db
from tests.helpers.servers import run_gunicorn


class Received:
    """Rows the driver has received from the database since :meth:`reset`, and whether it used a named cursor."""

    rows = 0
    server_side = False

    @classmethod
    def reset(cls) -> None:
        cls.rows, cls.server_side = 0, False


class CountingPgCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        result = super().execute(query, vars)
        if self.name is None and self.rowcount > 0:
            Received.rows += self.rowcount  # a client-side cursor has the whole result already
        elif self.name is not None:
            Received.server_side = True
        return result

    def _count(self, rows):
        if self.name is not None:
            Received.rows += len(rows)
        return rows

    def fetchone(self):
        row = super().fetchone()
        return self._count([row] if row is not None else []) and row

    def fetchmany(self, size=None):
        return self._count(super().fetchmany(size) if size is not None else super().fetchmany())

    def fetchall(self):
        return self._count(super().fetchall())


class CountingSqliteCursor(sqlite3.Cursor):
    def fetchone(self):
        row = super().fetchone()
        Received.rows += row is not None
        return row

    def fetchmany(self, size=None):
        rows = super().fetchmany(size) if size is not None else super().fetchmany()
        Received.rows += len(rows)
        return rows

    def fetchall(self):
        rows = super().fetchall()
        Received.rows += len(rows)
        return rows


class CountingSqliteConnection(sqlite3.Connection):
    def cursor(self, factory=CountingSqliteCursor):
        return super().cursor(factory)


def install_spy(app) -> None:
    """Open every new connection with the counting cursor, and drop the ones already pooled."""
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "do_connect")
        def _counting(dialect, record, cargs, cparams):
            if engine.dialect.name == "sqlite":
                cparams["factory"] = CountingSqliteConnection
            else:
                cparams["cursor_factory"] = CountingPgCursor

        engine.dispose()


def stream_log(client, auth, path):
    """Download ``path`` piece by piece; return (rows received at each piece, the pieces)."""
    Received.reset()
    response = client.get(path, headers=auth)  # the test client pulls the first piece before returning
    received = [Received.rows]
    pieces = []
    with response:
        for piece in response.response:
            pieces.append(piece)
            received.append(Received.rows)
    return received[:-1], pieces


def install_copy_spy(monkeypatch) -> None:
    """On PostgreSQL exports come through COPY (app/exports/pg_csv.py), read by libpq outside psycopg2:
    count the rows where the stream takes them from the connection."""
    from app.exports.pg_csv import CopyOut

    original = CopyOut.rows

    def counting(self, count):
        rows = original(self, count)
        Received.rows += len(rows)
        Received.server_side = True  # COPY streams; it never buffers the whole result in the client
        return rows

    monkeypatch.setattr(CopyOut, "rows", counting)


def test_csv_leaves_chunk_by_chunk_while_the_cursor_is_read(client, auth, seeded, database_url, monkeypatch):
    chunk = 10
    seeded.config["EXPORT_CHUNK_SIZE"] = chunk
    install_spy(seeded)
    install_copy_spy(monkeypatch)
    received, pieces = stream_log(client, auth, "/api/invoices/export?format=csv")
    total = 300
    assert b"".join(pieces).count(b"\r\n") == total + 1
    assert received[0] <= 2 * chunk + 1, "the first piece (header and first rows) left after one chunk was read"
    assert len(pieces) >= total // chunk, "one piece per chunk of rows"
    assert received == sorted(received) and received[-1] >= total - chunk
    assert Received.rows >= total
    if database_url.startswith("postgresql"):
        assert Received.server_side, "PostgreSQL rows must come through a named (server-side) cursor"


def test_xlsx_sheet_data_leaves_while_the_cursor_is_read(client, auth, seeded, database_url, monkeypatch):
    chunk = 50
    with seeded.app_context():
        seed(ots=0, invoices=1700, seed_value=8)  # 2,000 rows: ~150 KB zipped, past zlib's and the zip's buffers
    seeded.config["EXPORT_CHUNK_SIZE"] = chunk
    install_spy(seeded)
    install_copy_spy(monkeypatch)
    received, pieces = stream_log(client, auth, "/api/invoices/export?format=xlsx")
    total = 2000
    body = b"".join(pieces)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("xl/worksheets/sheet1.xml").count(b"<row ") == total + 1
    assert received[0] <= 2 * chunk + 1
    sheet_data_starts = body.index(b"xl/worksheets/sheet1.xml") + 200  # past the member's local header
    offsets, end = [], 0
    for piece in pieces:
        end += len(piece)
        offsets.append(end)
    early = [offset for offset, rows in zip(offsets, received, strict=True) if rows < total - chunk]
    assert early and early[-1] > sheet_data_starts + 64 * 1024, "compressed rows left before the last were read"
    if database_url.startswith("postgresql"):
        assert Received.server_side


# ---------------------------------------------------------------- real gunicorn (PostgreSQL: a lock holds an export)


@pytest.mark.gunicorn
def test_gunicorn_streams_exports_and_limits_them_per_worker(app, seeded, auth, server_env, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("holding an export open needs a table lock that blocks readers: PostgreSQL")
    app_name = f"nextops-export-test-{os.getpid()}"  # libpq reads PGAPPNAME: find our server's sessions
    env = {**server_env, "GUNICORN_WORKERS": "1", "EXPORT_MAX_CONCURRENT": "1", "PGAPPNAME": app_name}
    locker = create_engine(database_url)
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        url = server.url("/api/invoices/export?format=csv")
        with locker.connect() as lock:
            lock.execute(text("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE"))
            held: dict[str, requests.Response] = {}
            first = threading.Thread(target=lambda: held.update(r=requests.get(url, headers=auth, timeout=60)))
            first.start()
            _wait_for_lock_waiter(locker, app_name)
            refused = requests.get(server.url("/api/ots/export?format=xlsx"), headers=auth, timeout=10)
            assert refused.status_code == 429, "the worker answers while its only export waits on the database"
            assert refused.headers["Retry-After"].isdigit()
            assert refused.json()["error"]["code"] == "too_many_exports"
            lock.rollback()
        first.join(60)
        response = held["r"]
        assert response.status_code == 200
        assert "Content-Length" not in response.headers and response.headers["Transfer-Encoding"] == "chunked"
        assert response.content.count(b"\r\n") == 301
        again = requests.get(server.url("/api/ots/export?format=xlsx"), headers=auth, timeout=30)
        assert again.status_code == 200, "the slot is free again"
        assert zipfile.ZipFile(io.BytesIO(again.content)).testzip() is None
    locker.dispose()


def _wait_for_lock_waiter(engine, app_name: str, attempts: int = 200) -> None:
    """Until the server's session waits on the lock, i.e. the export holds its slot inside the database call."""
    with engine.connect() as conn:
        for _ in range(attempts):
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND wait_event_type = 'Lock'"
                ),
                {"name": app_name},
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the export never reached the database")
