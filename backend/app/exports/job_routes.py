"""``/api/exports``: create, follow, download and cancel background exports (docs/background-exports.md).

The body of ``POST`` is the streamed endpoint's query string as JSON (``resource``, ``format``,
``lang``, ``columns``, and the list filters), parsed by the same code before anything is queued, so
a bad filter is the same ``400`` as on ``GET /api/invoices/export``. Only the job's owner (the
account, or the service token that created it) or an admin sees it; anyone else gets ``404``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.auth import Principal, current_principal, has_role, require_role
from app.errors import ApiError
from app.exports import bp
from app.exports.formats import FORMATS
from app.exports.job_files import discard, download_response
from app.exports.jobs import (
    cancel_queued,
    enqueue,
    export_queue,
    job_states,
    new_job_id,
    parse_request,
    queued_count,
    reap_stale,
)
from app.extensions import db
from app.models import EXPORT_JOB_ACTIVE, ExportJob, utcnow
from app.monitoring.metrics import register_job_states
from app.uploads.storage import get_storage

RESOURCES = ("invoices", "ots")
bp.record_once(lambda state: register_job_states(state.app, job_states))


def _args(body: dict[str, Any]) -> list[list[str]]:
    """The JSON body's choices and filters as ``[name, value]`` pairs (a list value: the parameter repeated)."""
    pairs: list[list[str]] = []
    for name, value in body.items():
        if name == "resource":
            continue
        values = value if isinstance(value, list) else [value]
        if name == "columns" and isinstance(value, list):
            values = [",".join(str(item) for item in value)]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            if not isinstance(item, str | int | float) or item is None:
                raise ApiError(
                    400, f"{name}: expected text, a number or a list of them", "invalid_parameter", parameter=name
                )
            pairs.append([name, str(item)])
    return pairs


def _owner_filter(job: ExportJob | None, principal: Principal) -> ExportJob:
    if job is None:
        raise ApiError(404, "no such export job")
    if has_role(principal.role, "admin"):
        return job
    mine = job.user_id == principal.user_id if principal.user_id is not None else job.token_id == principal.token_id
    if not mine or (principal.user_id is None and job.user_id is not None):
        raise ApiError(404, "no such export job")
    return job


def _job(job_id: str) -> ExportJob:
    return owned_job(job_id, current_principal())


def describe(job: ExportJob) -> dict[str, Any]:
    """The job as the API shows it: state, progress (rows written of about how many), result, error."""
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "resource": job.resource,
        "format": job.format,
        "request": job.request,
        "owner": job.owner,
        "attempt": job.attempt,
        "rows_written": job.rows_written,
        "rows_estimate": job.rows_estimate,
        "bytes_written": job.bytes_written,
        "file_name": job.file_name,
        "size": job.size,
        "error": job.error,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "url": f"/api/exports/{job.id}",
    }
    if job.status == "finished":
        body["download_url"] = f"/api/exports/{job.id}/download"
    return body


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def create_job(resource: str, args: list[list[str]], principal: Principal) -> ExportJob:
    """Check the request as the streamed endpoint would, then record and queue the job (the API and the web app).

    Raises the streamed endpoints' ``400``s, ``429`` at the account's limit of queued jobs and
    ``503`` without ``REDIS_URL``, all before anything is written.
    """
    export_queue(current_app)
    payload = {"resource": resource, "args": args}
    choice = parse_request(payload)  # every 400 of the streamed endpoints, before anything is queued
    limit = current_app.config["EXPORT_JOB_MAX_QUEUED"]
    if queued_count(principal.user_id, principal.token_id) >= limit:
        raise ApiError(
            429,
            f"you already have {limit} background exports queued or running; wait for one to end",
            "too_many_export_jobs",
            limit=limit,
        )
    job = ExportJob(
        id=new_job_id(),
        user_id=principal.user_id,
        token_id=principal.token_id if principal.user_id is None else None,
        owner=principal.actor,
        resource=resource,
        format=choice.export_format.name,
        request=payload,
        status="queued",
        attempt=1,
        rows_written=0,
        bytes_written=0,
    )
    db.session.add(job)
    db.session.commit()
    enqueue(job)
    return job


def owned_jobs(principal: Principal, limit: int = 50) -> list[ExportJob]:
    """The principal's own jobs, newest first ("your exports", for an admin too)."""
    owner = (
        ExportJob.user_id == principal.user_id
        if principal.user_id is not None
        else ExportJob.token_id == principal.token_id
    )
    return list(db.session.scalars(select(ExportJob).where(owner).order_by(ExportJob.created_at.desc()).limit(limit)))


def owned_job(job_id: str, principal: Principal) -> ExportJob:
    """The job if ``principal`` may see it (its owner, or an admin); else ``404``."""
    return _owner_filter(db.session.get(ExportJob, job_id), principal)


def cancel_or_remove(job: ExportJob, principal: Principal) -> bool:
    """Cancel a queued or running job (True); remove an ended one and its file (False).

    A running job stops at its next progress report, within about a second, and removes its partial file.
    """
    if job.status in EXPORT_JOB_ACTIVE:
        if job.status == "queued":
            cancel_queued(job)
        job.status, job.finished_at, job.error = "cancelled", utcnow(), "cancelled by " + principal.actor
        db.session.commit()
        return True
    discard(get_storage(current_app), None, None, job.result_key)
    db.session.delete(job)
    db.session.commit()
    return False


@bp.post("/exports")
@require_role("operativo")
def create_export_job() -> ResponseReturnValue:
    """Queue an export; ``202`` with the job, ``429`` when the account already has its queued jobs."""
    export_queue(current_app)  # 503 before anything else when REDIS_URL is not set
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, 'expected a JSON object: {"resource": "invoices", "format": "csv", ...}')
    resource = body.get("resource")
    if resource not in RESOURCES:
        raise ApiError(
            400, f"resource: expected one of {', '.join(RESOURCES)}", "invalid_parameter", parameter="resource"
        )
    job = create_job(resource, _args(body), current_principal())
    return jsonify(describe(job)), 202, {"Location": f"/api/exports/{job.id}"}


@bp.get("/exports")
@require_role("operativo")
def list_export_jobs() -> ResponseReturnValue:
    """The caller's jobs, newest first (an admin's own too: the list is "your exports")."""
    return jsonify(items=[describe(job) for job in owned_jobs(current_principal())])


@bp.get("/exports/<string:job_id>")
@require_role("operativo")
def show_export_job(job_id: str) -> ResponseReturnValue:
    job = _job(job_id)
    if job.status == "running":
        reap_stale()
        db.session.refresh(job)
    return jsonify(describe(job))


@bp.get("/exports/<string:job_id>/download")
@require_role("operativo")
def download_export_job(job_id: str) -> ResponseReturnValue:
    job = _job(job_id)
    if job.status != "finished" or job.result_key is None:
        raise ApiError(409, f"the export is {job.status}, not finished", "export_not_finished", job_status=job.status)
    if job.expires_at is not None and job.expires_at <= utcnow():
        raise ApiError(410, "the export has expired; create it again", "export_expired")
    content_type = FORMATS[job.format].content_type
    return download_response(
        get_storage(current_app), job.result_key, job.file_name or "export", job.size or 0, content_type, request
    )


@bp.post("/exports/<string:job_id>/retry")
@require_role("operativo")
def retry_export_job(job_id: str) -> ResponseReturnValue:
    """Run a failed, cancelled or expired job again, as a new attempt under the same id."""
    job = _job(job_id)
    if job.status in EXPORT_JOB_ACTIVE or job.status == "finished":
        raise ApiError(
            409,
            f"the export is {job.status}; only a failed, cancelled or expired one is retried",
            "export_not_retryable",
            job_status=job.status,
        )
    export_queue(current_app)
    job.attempt += 1
    job.status, job.error, job.rows_written, job.bytes_written = "queued", None, 0, 0
    job.started_at = job.finished_at = job.expires_at = job.heartbeat_at = None
    job.size = job.file_name = job.worker_pid = None
    db.session.commit()
    enqueue(job)
    return jsonify(describe(job)), 202


@bp.delete("/exports/<string:job_id>")
@require_role("operativo")
def delete_export_job(job_id: str) -> ResponseReturnValue:
    """Cancel a queued or running job (``202``: a running one stops at its next progress report, within
    about a second, and removes its partial file); remove an ended one and its file (``204``)."""
    job = _job(job_id)
    if cancel_or_remove(job, current_principal()):
        return jsonify(describe(job)), 202
    return "", 204
