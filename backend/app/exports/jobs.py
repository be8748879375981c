"""Background exports on RQ: a job row per request, and the task that writes the file (docs/background-exports.md).

The task runs the streamed endpoints' code: the request is parsed by :func:`app.exports.formats.parse_export`,
rows come from :func:`app.exports.streams.open_export` (same SELECT, cursor, COPY path and writers), and
the bytes go to a :mod:`app.exports.job_files` sink instead of a response. Memory is one chunk of
rows plus one 5 MiB part at most.

How a job ends, whatever happens to its process:

- it finishes or raises: the task itself aborts the sink and records ``failed`` with the message;
- its work horse is killed (SIGKILL, the OOM killer): the RQ worker that forked it sees it die and
  calls :func:`fail` (:class:`app.exports.worker.ExportWorker`);
- the whole worker dies (a redeploy, the container killed): the job stops reporting progress, and
  after ``EXPORT_JOB_STALE_SECONDS`` :func:`reap_stale` (run by ``GET /api/exports/<id>``, the
  scheduled purge and ``flask exports purge``) fails it; RQ's own abandoned-job clean-up calls
  :func:`on_rq_failure` too.

Every path removes the partial file or aborts the multipart upload recorded on the row. Each retry is a
new ``attempt`` and a task only writes to the row while the attempt and the ``running`` state are
still its own, so a job failed as stale or cancelled stops at its next progress report.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from app.errors import ApiError
from app.exports.formats import ExportChoice, parse_export, row_limit
from app.exports.job_files import discard, discard_job, open_sink, result_key
from app.exports.queries import EXPORTS
from app.exports.streams import open_export
from app.extensions import db
from app.models import EXPORT_JOB_ACTIVE, EXPORT_JOB_STATES, ExportJob, utcnow
from app.uploads.storage import get_storage
from ops.metrics import record_export

log = logging.getLogger(__name__)
QUEUE_NAME = "nextops-exports"
EXTENSION_KEY = "nextops.export_queue"
PROGRESS_EVERY = 1.0  # seconds between progress writes: a heartbeat, without a write per chunk
PURGE_JOB_ID = "nextops-exports-purge"
PURGE_EVERY = dt.timedelta(minutes=15)
JOB_TIMEOUT = -1  # no RQ time limit: a job's life is bounded by its rows, and a dead one by the stale check


class Stopped(Exception):
    """The row says this attempt is no longer running (cancelled, or failed as stale): stop writing."""


def export_queue(app: Flask) -> Any:
    """The RQ queue on ``REDIS_URL``, or a 503 naming the variable when it is not set."""
    queue = app.extensions.get(EXTENSION_KEY)
    if queue is None:
        url = app.config["REDIS_URL"]
        if not url:
            raise ApiError(
                503,
                "background exports need REDIS_URL (a Redis for the RQ queue); streamed exports still work",
                "background_exports_off",
            )
        from redis import Redis
        from rq import Queue

        queue = app.extensions[EXTENSION_KEY] = Queue(QUEUE_NAME, connection=Redis.from_url(url))
    return queue


def request_args(payload: dict[str, Any]) -> MultiDict[str, str]:
    """The stored request as the query string the streamed endpoints parse."""
    return MultiDict([(name, value) for name, value in payload["args"]])


def parse_request(payload: dict[str, Any]) -> ExportChoice:
    return parse_export(EXPORTS[payload["resource"]], request_args(payload), current_app.config["APP_TIMEZONE"])


def new_job_id() -> str:
    return uuid.uuid4().hex


def enqueue(job: ExportJob) -> None:
    """Put this attempt on the queue; the RQ job id carries the attempt, so a retry never meets an old one."""
    from rq import Callback

    export_queue(current_app).enqueue(
        "app.exports.jobs.run_export_job",
        job.id,
        job.attempt,
        job_id=_rq_job_id(job),
        job_timeout=JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=24 * 3600,
        on_failure=Callback(on_rq_failure),
    )


def _rq_job_id(job: ExportJob) -> str:
    return f"export-{job.id}-{job.attempt}"


def cancel_queued(job: ExportJob) -> None:
    """Drop a queued attempt from RQ (a running one stops by itself at its next progress report)."""
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.job import Job

    queue = export_queue(current_app)
    try:
        Job.fetch(_rq_job_id(job), connection=queue.connection).cancel()
    except (NoSuchJobError, InvalidJobOperation) as exc:  # picked up meanwhile, or gone: the state check stops it
        log.debug("could not cancel RQ job of export %s: %s", job.id, exc)


# ---------------------------------------------------------------- state changes (any process)


def _owned_update(job_id: str, attempt: int, **values: Any) -> bool:
    """UPDATE the row only while this attempt is still running; False when someone else ended it."""
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.attempt == attempt, ExportJob.status == "running")
        .values(**values)
    )
    db.session.commit()
    return result.rowcount == 1


def fail(job_id: str, attempt: int, message: str) -> bool:
    """Mark a queued or running attempt failed and remove what it had written; False if it had already ended."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.attempt != attempt or job.status not in EXPORT_JOB_ACTIVE:
        db.session.rollback()
        return False
    storage = get_storage(current_app)
    discard(storage, job.partial_key, job.upload_id, job.result_key)
    discard_job(storage, job_id)
    job.status, job.error, job.finished_at = "failed", message, utcnow()
    job.partial_key = job.upload_id = job.result_key = None
    db.session.commit()
    log.warning("export job failed", extra={"job": job_id, "attempt": attempt, "reason": message})
    return True


def _forget_partial(job_id: str, attempt: int) -> None:
    """The attempt removed its own partial file or upload: nothing is left for anyone else to remove."""
    db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.attempt == attempt)
        .values(partial_key=None, upload_id=None)
    )
    db.session.commit()


def reap_stale(now: dt.datetime | None = None) -> int:
    """Fail every running job that stopped reporting progress (its worker died); return how many.

    A job cancelled while running removes its partial file itself; one whose worker died before it
    could is cleaned here too.
    """
    now = now or utcnow()
    seconds = current_app.config["EXPORT_JOB_STALE_SECONDS"]
    limit = now - dt.timedelta(seconds=seconds)
    silent = (ExportJob.heartbeat_at < limit) | ExportJob.heartbeat_at.is_(None)
    stale = db.session.execute(
        select(ExportJob.id, ExportJob.attempt).where(ExportJob.status == "running", silent)
    ).all()
    abandoned = db.session.scalars(
        select(ExportJob).where(ExportJob.status == "cancelled", ExportJob.partial_key.is_not(None), silent)
    ).all()
    for job in abandoned:
        discard(get_storage(current_app), job.partial_key, job.upload_id, None)
        job.partial_key = job.upload_id = None
    db.session.commit()
    message = f"the export's worker stopped: no progress for {seconds} s"
    return sum(fail(job_id, attempt, message) for job_id, attempt in stale)


def on_rq_failure(job: Any, connection: Any, kind: Any, value: Any, traceback: Any) -> None:
    """RQ's failure callback (an exception in the task, or an abandoned job found by RQ's clean-up)."""
    job_id, attempt = job.args
    fail(job_id, attempt, f"{getattr(kind, '__name__', kind)}: {value}")


def purge(now: dt.datetime | None = None) -> int:
    """Remove expired results (file and row state ``expired``) and fail stale jobs; return how many changed."""
    now = now or utcnow()
    changed = reap_stale(now)
    expired = db.session.scalars(
        select(ExportJob).where(ExportJob.status == "finished", ExportJob.expires_at <= now)
    ).all()
    storage = get_storage(current_app)
    for job in expired:
        discard(storage, None, None, job.result_key)
        job.status, job.result_key = "expired", None
        db.session.commit()
        changed += 1
    return changed


def scheduled_purge() -> int:
    """The RQ job that purges, then schedules itself again (RQ's scheduler runs it: ``flask rq-worker``)."""
    changed = purge()
    schedule_purge(export_queue(current_app), PURGE_EVERY)
    return changed


def schedule_purge(queue: Any, delay: dt.timedelta) -> None:
    """One purge job in the schedule at a time: a fixed id, so two workers starting together do not double it."""
    queue.enqueue_in(delay, "app.exports.jobs.scheduled_purge", job_id=PURGE_JOB_ID, result_ttl=600)


def job_states() -> dict[str, int]:
    """Jobs in each state, for ``/metrics`` (``nextops_background_jobs``); every state present, zeros too."""
    counts = dict.fromkeys(EXPORT_JOB_STATES, 0)
    rows = db.session.execute(select(ExportJob.status, func.count()).group_by(ExportJob.status)).all()
    db.session.commit()
    counts.update({status: count for status, count in rows})
    return counts


def queued_count(user_id: int | None, token_id: int | None) -> int:
    owner = ExportJob.user_id == user_id if user_id is not None else ExportJob.token_id == token_id
    return (
        db.session.scalar(
            select(func.count()).select_from(ExportJob).where(owner, ExportJob.status.in_(EXPORT_JOB_ACTIVE))
        )
        or 0
    )


# ---------------------------------------------------------------- the task (in the RQ work horse)


def run_export_job(job_id: str, attempt: int) -> str | None:
    """Write one export to the storage backend; the job's row says how it went."""
    db.engine.dispose(close=False)  # a forked work horse must not share the parent's pooled connections
    job = db.session.get(ExportJob, job_id)
    if job is None or job.attempt != attempt or job.status != "queued":
        db.session.rollback()
        return None  # cancelled before it started, or an older attempt
    try:
        choice = parse_request(job.request)
        estimate = _count(choice)
    except ApiError as exc:
        fail(job_id, attempt, exc.description or str(exc))
        return None
    export_format, definition = choice.export_format, choice.definition
    file_name = export_format.filename(definition, dt.datetime.now(dt.UTC))
    key = result_key(job_id, file_name)
    storage = get_storage(current_app)
    sink = open_sink(storage, key, attempt)
    now = utcnow()
    db.session.rollback()  # the row is written below by a conditional UPDATE, not through this object
    claimed = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.attempt == attempt, ExportJob.status == "queued")
        .values(
            status="running",
            started_at=now,
            heartbeat_at=now,
            worker_pid=os.getpid(),
            rows_estimate=estimate,
            file_name=file_name,
            partial_key=sink.partial_key,
            upload_id=sink.upload_id,
        )
    ).rowcount
    db.session.commit()  # the upload id is on the row before the first part is sent
    if claimed != 1:  # cancelled meanwhile
        sink.abort()
        return None
    started = time.perf_counter()
    progress = Progress()
    try:
        rows = _write(job_id, attempt, choice, sink, progress)
        sink.commit()
    except BaseException as exc:
        sink.abort()
        record_export(export_format.name, "background", progress.rows, sink.size, time.perf_counter() - started, False)
        if isinstance(exc, Stopped):
            _forget_partial(job_id, attempt)
            return None
        fail(job_id, attempt, f"{type(exc).__name__}: {exc}")
        raise
    record_export(export_format.name, "background", rows, sink.size, time.perf_counter() - started, True)
    finished = utcnow()
    ttl = dt.timedelta(hours=current_app.config["EXPORT_JOB_TTL_HOURS"])
    if not _owned_update(
        job_id,
        attempt,
        status="finished",
        rows_written=rows,
        bytes_written=sink.size,
        size=sink.size,
        result_key=key,
        partial_key=None,
        upload_id=None,
        finished_at=finished,
        heartbeat_at=finished,
        expires_at=finished + ttl,
    ):
        discard(storage, None, None, key)  # cancelled at the last moment: nobody may download it
        return None
    log.info(
        "export finished",
        extra={
            "export": definition.name,
            "format": export_format.name,
            "mode": "background",
            "rows": rows,
            "bytes": sink.size,
            "job": job_id,
        },
    )
    return key


def _count(choice: ExportChoice) -> int:
    """The rows the export will have (the progress estimate); XLSX beyond an Excel sheet fails before writing."""
    rows = db.session.scalar(choice.definition.count(choice.conditions)) or 0
    db.session.commit()
    limit = row_limit(choice.export_format, 0)
    if limit is not None and rows > limit:
        raise ApiError(422, f"this export has {rows} rows, more than an Excel sheet holds ({limit}); use format=csv")
    return rows


class Progress:
    """Rows read so far, kept outside the stream so a failed job can still count what it wrote."""

    rows = 0


def _write(job_id: str, attempt: int, choice: ExportChoice, sink: Any, progress: Progress) -> int:
    """Stream the file into ``sink``, reporting progress (and noticing a cancel) about once a second."""
    stream = open_export(
        db.engine, choice.definition, choice.export_format, choice.conditions, current_app.config["EXPORT_CHUNK_SIZE"]
    )
    reported = time.monotonic()
    try:
        for piece in stream.pieces():
            sink.write(piece)
            progress.rows = stream.rows_read
            if time.monotonic() - reported >= PROGRESS_EVERY:
                reported = time.monotonic()
                if not _owned_update(
                    job_id, attempt, rows_written=stream.rows_read, bytes_written=sink.size, heartbeat_at=utcnow()
                ):
                    raise Stopped
    finally:
        stream.close()
    return stream.rows_read
