"""On PostgreSQL the CSV export is formatted by the database; the file must be byte-for-byte the Python writer's.

Both paths read the same SELECT on the same hostile data: formula triggers, quotes, commas, CR/LF
and lone CR, control characters, unicode outside the BMP, NULL in every nullable column, empty
strings, negative and large amounts, odd container lists, timestamps with microseconds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.exports.csv_writer import csv_chunks
from app.exports.formats import FORMATS
from app.exports.pg_csv import PostgresCsvStream
from app.exports.queries import EXPORTS, RowStream
from app.exports.streams import WriterStream, open_export
from app.extensions import db
from app.models import Client, Invoice, Ot, Provider

HOSTILE_TEXTS = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-10% descuento",
    "@SUM(A1)",
    "\tTAB first",
    "\rCR first",
    "\nLF first",
    'quote " inside',
    '"',
    "'already quoted",
    "comma, inside",
    "line\nbreak",
    "crlf\r\nbreak",
    "lone\rcr",
    "trailing space ",
    " leading space",
    "ctl \x01\x08\x0b\x0c\x1b\x1f\x7f end",
    "unicode Ñandú café 😀 \U0001d518 עברית e\u0301",
    "",
    "x" * 5000,
]


def _hostile_data() -> None:
    providers = [
        Provider(name='Prov "quoted", S.A.', nit="900,1", type="naviera"),
        Provider(name="=cmd|' /C calc'!A0", nit="-5", type="otro"),
    ]
    clients = [Client(name='Cliente, Ñ "uno"'), Client(name="@client\nline")]
    db.session.add_all(providers + clients)
    db.session.flush()
    containers = [
        ["MSCU1234567"],
        ["A,B", 'C"D', "=E"],
        [],
        [""],
        ["-x", "y\nz"],
        None,
    ]
    ots = []
    for index, value in enumerate(containers):
        ots.append(
            Ot(
                ot_number=f"OT-H{index}" if index % 2 else f"=OT-H{index}",
                client_id=clients[index % 2].id,
                carrier_id=providers[0].id if index % 3 else None,
                master_bl=None if index == 2 else HOSTILE_TEXTS[index][:64],
                containers=value,
                vessel=HOSTILE_TEXTS[-index - 1][:120] if index % 2 else None,
                eta=dt.date(2026, 1, index + 1) if index != 4 else None,
                status="transito",
                created_at=dt.datetime(2026, 3, 4, 5, 6, 7, 891011),
                updated_at=dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
            )
        )
    db.session.add_all(ots)
    db.session.flush()
    amounts = [Decimal("-5.00"), Decimal("0.00"), Decimal("123456789012.34"), Decimal("-0.01"), Decimal("7.10")]
    for index, text in enumerate(HOSTILE_TEXTS):
        db.session.add(
            Invoice(
                invoice_number=text[:64] or "EMPTY-NUMBER",
                ot_id=ots[index % len(ots)].id if index % 4 else None,
                provider_id=providers[index % 2].id,
                provider_nit=None if index % 5 == 0 else text[:32],
                cost_type="OTRO",
                amount=amounts[index % len(amounts)],
                issue_date=dt.date(2026, 11, 1) - dt.timedelta(days=index * 40),
                due_date=None if index % 3 == 0 else dt.date(1, 1, 1) if index == 1 else dt.date(2030, 2, 28),
                provision_date=None if index % 2 else dt.date(2026, 2, 1),
                billing_date=None,
                provision_status="pending",
                billing_status="billed" if index % 2 else "pending",
                assignment_method="manual",
                match_confidence=[None, Decimal("0.000"), Decimal("1.000"), Decimal("0.875")][index % 4],
                needs_review=bool(index % 2),
                notes=None if index % 7 == 3 else text,
                created_at=dt.datetime(2026, 11, 27, 14, 5, 9, 999999) - dt.timedelta(hours=index),
            )
        )
    db.session.commit()


@pytest.fixture
def hostile(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the SQL-formatted CSV exists on PostgreSQL only")
        _hostile_data()
    return app


def _python_bytes(definition, conditions, chunk_size: int) -> bytes:
    stream = RowStream(db.engine, definition.select(conditions), chunk_size)
    try:
        return b"".join(csv_chunks(definition.columns, stream.chunks(), definition.tzinfo))
    finally:
        stream.close()


def _postgres_bytes(definition, conditions, chunk_size: int) -> bytes:
    stream = PostgresCsvStream(
        db.engine, definition.columns, definition.select(conditions), chunk_size, definition.zone
    )
    try:
        return b"".join(stream.pieces())
    finally:
        stream.close()


# The team's zone (UTC-6, no daylight saving), one with daylight saving, one with a half-hour offset, and UTC.
ZONES = ["America/El_Salvador", "America/New_York", "Asia/Kolkata", "UTC"]


@pytest.mark.parametrize("name", ["invoices", "ots"])
@pytest.mark.parametrize(
    "query", [{}, {"billing_status": "billed"}, {"q": "quote"}, {"q": "no such text anywhere"}], ids=str
)
@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_postgresql_csv_is_byte_for_byte_the_python_writer(hostile, name, query, chunk_size):
    definition = EXPORTS[name].localised("es", "America/El_Salvador")
    if name == "ots" and "billing_status" in query:
        query = {"status": "transito"}
    with hostile.app_context():
        conditions = definition.conditions(MultiDict(query), ())
        expected = _python_bytes(definition, conditions, chunk_size)
        assert _postgres_bytes(definition, conditions, chunk_size) == expected
    assert expected.startswith(b"\xef\xbb\xbf") and expected.endswith(b"\r\n")


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("name", ["invoices", "ots"])
def test_timestamps_are_byte_for_byte_the_same_in_every_zone(hostile, name, zone):
    """Local time with its offset, from PostgreSQL's to_char and from Python's isoformat: the same text."""
    definition = EXPORTS[name].localised("en", zone)
    with hostile.app_context():
        db.session.add(
            Ot(
                ot_number="OT-DST",
                client_id=db.session.scalar(select(Client.id).limit(1)),
                status="transito",
                created_at=dt.datetime(2026, 3, 8, 6, 59, 59),
                updated_at=dt.datetime(2026, 3, 8, 7, 0, 0),
            )
        )
        db.session.commit()
        expected = _python_bytes(definition, [], 5)
        assert _postgres_bytes(definition, [], 5) == expected


def test_csv_timestamps_are_san_salvador_time_with_the_offset(hostile):
    """Stored 14:05:09 UTC: the team reads 08:05:09 and the offset says which instant that is."""
    definition = EXPORTS["invoices"].localised("es", "America/El_Salvador").with_columns(["created_at"])
    with hostile.app_context():
        data = _postgres_bytes(definition, [], 100)
    assert b"2026-11-27 08:05:09-06:00\r\n" in data
    assert b"2026-11-27 14:05:09" not in data  # the UTC wall clock


def test_the_hostile_rows_are_really_in_the_file(hostile):
    """Guard against the comparison passing on files that lost the interesting rows."""
    definition = EXPORTS["invoices"].localised("es", "America/El_Salvador")
    with hostile.app_context():
        data = _postgres_bytes(definition, [], 100)
    assert data.count(b"\r\n") > len(HOSTILE_TEXTS)  # embedded CRLF counts too
    for needle in [b'\'=HYPERLINK(""http://evil"",""x"")', b'"quote "" inside"', b'"\'\rCR first"', b"-5.00"]:
        assert needle in data, needle
    assert "😀".encode() in data and b"\x01\x08" in data


def test_the_endpoint_uses_the_database_formatter_on_postgresql_only(app):
    with app.app_context():
        stream = open_export(db.engine, EXPORTS["invoices"], FORMATS["csv"], [], 10)
        try:
            expected = PostgresCsvStream if db.engine.dialect.name == "postgresql" else WriterStream
            assert isinstance(stream, expected)
        finally:
            stream.close()
        xlsx = open_export(db.engine, EXPORTS["invoices"], FORMATS["xlsx"], [], 10)
        xlsx.close()
        assert isinstance(xlsx, WriterStream)


def _sheet_values(data: bytes) -> list[tuple]:
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return [tuple(cell for cell in row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("zone", ["America/El_Salvador", "Asia/Kolkata"])
@pytest.mark.parametrize("name", ["invoices", "ots"])
def test_postgresql_prepared_xlsx_reads_like_the_python_one(hostile, name, zone):
    """XLSX from PostgreSQL-prepared cells through COPY reads back (openpyxl) exactly as the all-Python path's."""
    from app.exports.pg_xlsx import CopyRowStream, prepared_select
    from app.exports.xlsx_writer import xlsx_chunks

    definition = EXPORTS[name].localised("es", zone)
    with hostile.app_context():
        stmt = definition.select([])
        rows = RowStream(db.engine, stmt, 7)
        python = b"".join(xlsx_chunks(definition.columns, rows.chunks(), definition.title, definition.tzinfo))
        copied = CopyRowStream(db.engine, prepared_select(definition.columns, stmt, zone), 7, zone)
        prepared = b"".join(
            xlsx_chunks(definition.columns, copied.chunks(), definition.title, definition.tzinfo, prepared=True)
        )
    expected = _sheet_values(python)
    assert len(expected) > 5
    assert _sheet_values(prepared) == expected


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_lets_other_requests_run_between_chunks(app, client, auth, monkeypatch, fmt):
    """The export takes a turn (``Turns.take``: a gevent sleep in a worker) after every chunk of rows."""
    from app.cli.seed import seed
    from app.exports import turns

    with app.app_context():
        seed(ots=10, invoices=400, seed_value=5)
    app.config["EXPORT_CHUNK_SIZE"] = 50
    taken = []
    monkeypatch.setattr(turns.Turns, "take", lambda self: taken.append(1))
    response = client.get(f"/api/invoices/export?format={fmt}", headers=auth, buffered=False)
    b"".join(response.response)
    response.close()
    assert len(taken) >= 400 // 50 - 1


def test_turns_pause_only_while_other_requests_wait(monkeypatch):
    """Alone, an export sleeps zero; with another request in the worker it pauses as long as its chunk took."""
    from app.exports import turns

    slept = []
    monkeypatch.setattr(turns.time, "sleep", slept.append)
    clock = iter([0.0, 0.004, 0.004, 0.010, 0.010])
    monkeypatch.setattr(turns.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(turns.InFlight, "others", 0)
    monkeypatch.setattr(turns.InFlight, "bulk", 0)
    monkeypatch.setattr(turns.InFlight, "bulk_counted", 0)
    with turns.Turns() as turn:
        turn.take()
        monkeypatch.setattr(turns.InFlight, "others", 1)
        turn.take()
    assert slept[0] == 0.0
    assert abs(slept[1] - 0.006 * (1 - turns.EXPORT_SHARE) / turns.EXPORT_SHARE) < 1e-9
    assert turns.InFlight.bulk == 0


def test_the_share_is_the_whole_worker_s_not_each_export_s(monkeypatch):
    """Two exports in one worker each pause long enough that together they keep EXPORT_SHARE of it;
    uploads are bulk streams too, and are not small requests waiting for a turn."""
    from app.exports import turns

    slept = []
    clock = [0.0]
    monkeypatch.setattr(turns.time, "sleep", slept.append)
    monkeypatch.setattr(turns.time, "perf_counter", lambda: clock[0])
    for name in ("others", "bulk", "bulk_counted"):
        monkeypatch.setattr(turns.InFlight, name, 0)
    with turns.Turns() as first, turns.Turns() as second:
        monkeypatch.setattr(turns.InFlight, "others", 1)
        clock[0] = 0.010
        first.take()
        second.take()
        with turns.Turns(counted_self=True) as upload:
            monkeypatch.setattr(turns.InFlight, "others", 2)  # the upload's request and a list call
            assert turns.InFlight.small_waiting()
            monkeypatch.setattr(turns.InFlight, "others", 1)  # the upload's request only
            assert not turns.InFlight.small_waiting()
            clock[0] = 0.020
            upload.take()
    chunk_share = [0.010 / (0.010 + pause) for pause in slept[:2]]
    assert sum(chunk_share) == pytest.approx(turns.EXPORT_SHARE)
    assert slept[2] == 0.0
    assert (turns.InFlight.bulk, turns.InFlight.bulk_counted) == (0, 0)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_finished_or_abandoned_export_leaves_the_turns_count(app, client, auth, monkeypatch, fmt):
    from app.cli.seed import seed
    from app.exports import turns

    with app.app_context():
        seed(ots=10, invoices=2000, seed_value=5)  # enough for the XLSX's deflate to emit before the end
    app.config["EXPORT_CHUNK_SIZE"] = 20
    monkeypatch.setattr(turns.InFlight, "bulk", 0)
    response = client.get(f"/api/invoices/export?format={fmt}", headers=auth, buffered=False)
    b"".join(response.response)
    response.close()
    assert turns.InFlight.bulk == 0
    response = client.get(f"/api/invoices/export?format={fmt}", headers=auth, buffered=False)
    pieces = iter(response.response)
    for _piece in pieces:  # the XLSX writer asks for rows only after its zip headers
        if turns.InFlight.bulk:
            break
    assert turns.InFlight.bulk == 1, "the export is streaming rows"
    response.close()  # the client went away mid-stream
    assert turns.InFlight.bulk == 0
