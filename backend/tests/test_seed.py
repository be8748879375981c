"""``flask seed`` makes realistic, deterministic data in batches."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Client, Invoice, Ot, Provider


def snapshot(app):
    with app.app_context():
        return db.session.execute(
            select(Invoice.invoice_number, Invoice.amount, Invoice.issue_date, Invoice.notes).order_by(Invoice.id)
        ).all()


def counts(app):
    with app.app_context():
        return [db.session.scalar(select(func.count()).select_from(m)) for m in (Client, Provider, Ot, Invoice)]


def test_seed_counts_and_if_empty(app, runner):
    result = runner.invoke(args=["seed", "--ots", "40", "--invoices", "120", "--seed", "3"])
    assert result.exit_code == 0, result.output
    clients, providers, ots, invoices = counts(app)
    assert (ots, invoices) == (40, 120)
    assert clients >= 1 and providers >= 10
    again = runner.invoke(args=["seed", "--if-empty"])
    assert "not seeding" in again.output
    assert counts(app)[3] == 120


def test_same_seed_same_data(app, runner):
    runner.invoke(args=["seed", "--ots", "10", "--invoices", "50", "--seed", "9"])
    first = snapshot(app)
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    runner.invoke(args=["seed", "--ots", "10", "--invoices", "50", "--seed", "9"])
    assert snapshot(app) == first


def test_seed_batches_cross_the_batch_boundary(app, runner, monkeypatch):
    from app.cli import seed as seed_module

    monkeypatch.setattr(seed_module, "BATCH", 7)
    runner.invoke(args=["seed", "--ots", "5", "--invoices", "23"])
    assert counts(app)[2:] == [5, 23]
