""" "Your exports" in Chromium against the real gunicorn: exports.mjs follows a running job through the API.

The job row is written straight to the database the server reads (as the worker would write its
progress), so the test drives the page's script without a worker: the bar and the row count move
on the next poll, and the state change reloads the page, which then has the download link.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import ExportJob, User, utcnow
from tests.helpers.browser import ACCOUNTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.gunicorn]
POLL_TIMEOUT = 30_000  # ms: a few polls of 2 s on a busy 2-core machine


def _job(site, **values) -> None:
    with site.app().app_context():
        db.session.execute(update(ExportJob).where(ExportJob.id == values.pop("id")).values(**values))
        db.session.commit()


def test_the_progress_bar_follows_a_running_job_and_the_finished_one_has_its_download(page, site):
    job_id = uuid.uuid4().hex
    account = ACCOUNTS["operativo"]
    with site.app().app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == account.email))
        db.session.add(
            ExportJob(
                id=job_id,
                user_id=user_id,
                owner=account.email,
                resource="invoices",
                format="csv",
                request={"resource": "invoices", "args": [["format", "csv"]]},
                status="running",
                attempt=1,
                rows_written=10,
                rows_estimate=200,
                bytes_written=0,
                started_at=utcnow(),
                heartbeat_at=utcnow(),
            )
        )
        db.session.commit()
    try:
        sign_in(page, site, "operativo", "/exports")
        page.goto(site.url("/exports"))
        row = f'tr[data-export-job="{job_id}"]'
        assert page.eval_on_selector(f"{row} progress", "bar => bar.value") == 5
        _job(site, id=job_id, rows_written=150, heartbeat_at=utcnow())
        page.wait_for_function(f"document.querySelector('{row} progress').value === 75", timeout=POLL_TIMEOUT)
        assert page.inner_text(f'{row} [data-field="written"]') == "150"
        _job(site, id=job_id, status="finished", rows_written=200, finished_at=utcnow(), result_key="unused")
        page.wait_for_selector(f'{row}[data-status="finished"] a[download]', timeout=POLL_TIMEOUT)
    finally:
        with site.app().app_context():
            db.session.execute(ExportJob.__table__.delete().where(ExportJob.id == job_id))
            db.session.commit()
