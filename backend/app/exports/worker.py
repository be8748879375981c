"""``flask rq-worker`` (RQ's worker inside the app's context and settings) and ``flask exports purge``.

The worker forks a work horse per job, as RQ does by default: the horse inherits the app context
pushed here, and a job's memory is returned to the system when its horse exits. RQ's scheduler runs
in the worker too (``with_scheduler``), for the purge that re-schedules itself
(:func:`app.exports.jobs.scheduled_purge`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from app.errors import ApiError
from app.exports.jobs import export_queue, fail, purge, schedule_purge
from app.extensions import db

TASK = "app.exports.jobs.run_export_job"


def _worker_class() -> type:
    """RQ's forking worker, told what to do when a work horse dies without a word (imported lazily: rq is big)."""
    from rq import Worker

    class ExportWorker(Worker):
        """Fails an export at once when its work horse is killed (SIGKILL, the OOM killer), removing its upload."""

        def handle_work_horse_killed(self, job: Any, retpid: int, ret_val: int, rusage: Any) -> None:
            super().handle_work_horse_killed(job, retpid, ret_val, rusage)
            if job.func_name != TASK:
                return
            how = f"signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else f"status {ret_val}"
            job_id, attempt = job.args
            fail(job_id, attempt, f"the export's worker process was killed ({how})")

    return ExportWorker


def _share_with_work_horses() -> None:
    """Import what every export needs and freeze the heap, so each forked horse shares it instead of copying it.

    Like gunicorn's preload + ``gc.freeze()`` (docs/monitoring.md): objects that exist before the fork
    are left out of the horse's garbage collections, which would otherwise write to (and so copy)
    every page holding one. psycopg (the COPY path) and the writers are imported here, once.
    """
    import gc

    import psycopg  # noqa: F401  (the PostgreSQL COPY path of every export)
    import stream_zip  # noqa: F401

    gc.collect()
    gc.freeze()


@click.command("rq-worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, one-off runs).")
@with_appcontext
def rq_worker_command(burst: bool) -> None:
    """Run the background-export worker (RQ on REDIS_URL) with this app's settings."""
    try:
        queue = export_queue(current_app)
    except ApiError as exc:
        raise click.ClickException(exc.description or str(exc)) from None
    db.engine.dispose()  # no pooled connection is shared with the forked work horses
    _share_with_work_horses()
    schedule_purge(queue, dt.timedelta(0))
    worker = _worker_class()([queue], connection=queue.connection)
    level = logging.getLevelName(current_app.config["LOG_LEVEL"])
    worker.work(burst=burst, with_scheduler=True, logging_level=level)


@click.group("exports")
def exports_group() -> None:
    """Background export jobs (see docs/background-exports.md)."""


@exports_group.command("purge")
@with_appcontext
def purge_command() -> None:
    """Remove expired export files and fail jobs whose worker died; runs on a schedule in the worker too."""
    changed = purge()
    click.echo(f"{changed} export jobs expired or failed")
