"""Where a background export's file is written and served from: the documents' storage backend.

The worker writes the file while rows are read, with flat memory, so that nothing half-written is
ever visible under the result's key:

- local storage: ``exports/<job>/.<name>.<attempt>.part`` beside the result, fsynced and renamed to
  ``exports/<job>/<name>`` when complete (same directory: an atomic rename);
- S3: a multipart upload straight to ``exports/<job>/<name>`` in 5 MiB parts (S3's smallest, so
  the least memory); the object exists only once the upload is completed, and any failure aborts it.

Not under ``tmp/``: the web service removes everything there when its master starts, and the
worker (another process, on Railway another service) may be writing meanwhile. The partial file
or the upload id is recorded on the job row before any byte is written (:meth:`partial`), so
whoever sees the job die (the job itself, the RQ worker that watched its work horse, the stale
check or the purge) can remove it with :func:`discard`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from flask import Request, Response, redirect

from app.errors import ApiError
from app.uploads.downloads import content_disposition
from app.uploads.storage import S3_PART_SIZE, WRITE_BUFFER, FileReader, LocalStorage, S3Storage, Storage
from ops.leftovers import abort_s3_temporaries

PRESIGNED_SECONDS = 300  # a download link is used at once; short-lived, so a leaked one soon stops working


def result_key(job_id: str, file_name: str) -> str:
    return f"exports/{job_id}/{file_name}"


class LocalSink:
    """A temporary file beside the result, renamed into place on :meth:`commit`."""

    def __init__(self, storage: LocalStorage, key: str, attempt: int) -> None:
        self.key = key
        self.final = storage.root / key
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.partial_key = str(Path(key).parent / f".{self.final.name}.{attempt}.part")
        self._path = storage.root / self.partial_key
        self._file: BinaryIO | None = open(self._path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115  (closed by commit/abort)
        self.upload_id: str | None = None
        self.size = 0

    def write(self, piece: bytes) -> None:
        assert self._file is not None
        self._file.write(piece)
        self.size += len(piece)

    def commit(self) -> None:
        """fsync, then rename: the result's path holds the whole file or nothing."""
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self._path, self.final)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


class S3Sink:
    """A multipart upload to the result's key, one 5 MiB part at a time; created at once, so its id can be recorded."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self._client = storage.client
        self._bucket = storage.bucket
        self.key = key
        self.partial_key = key
        self.upload_id: str | None = self._client.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self.size = 0

    def write(self, piece: bytes) -> None:
        self._buffer += piece
        self.size += len(piece)
        if len(self._buffer) >= S3_PART_SIZE:
            self._send_part()

    def _send_part(self) -> None:
        number = len(self._parts) + 1
        body, self._buffer = self._buffer, bytearray()
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=bytes(body)
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> None:
        """The last part (S3 allows it to be small, or the only one), then complete: the object appears whole."""
        if self._buffer or not self._parts:
            self._send_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self._parts}
        )
        self.upload_id = None

    def abort(self) -> None:
        self._buffer = bytearray()
        if self.upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self.upload_id)
            self.upload_id = None


Sink = LocalSink | S3Sink


def open_sink(storage: Storage, key: str, attempt: int) -> Sink:
    if isinstance(storage, S3Storage):
        return S3Sink(storage, key)
    assert isinstance(storage, LocalStorage)
    return LocalSink(storage, key, attempt)


def discard(storage: Storage, partial_key: str | None, upload_id: str | None, key: str | None) -> None:
    """Remove what a dead or failed attempt left: its partial file or open multipart upload, and any result."""
    if isinstance(storage, S3Storage):
        if partial_key and upload_id:
            # NoSuchUpload: the job aborted it itself before it died.
            with contextlib.suppress(storage.client.exceptions.NoSuchUpload):
                storage.client.abort_multipart_upload(Bucket=storage.bucket, Key=partial_key, UploadId=upload_id)
        if key:
            storage.delete(key)
        return
    assert isinstance(storage, LocalStorage)
    for name in (partial_key, key):
        if name:
            (storage.root / name).unlink(missing_ok=True)


def discard_job(storage: Storage, job_id: str) -> None:
    """Remove everything under the job's prefix: also an upload or partial file created in the instant
    before its name reached the row (the sink exists before the row can record it)."""
    prefix = f"exports/{job_id}/"
    if isinstance(storage, S3Storage):
        abort_s3_temporaries(storage.client, storage.bucket, prefix)
        return
    assert isinstance(storage, LocalStorage)
    directory = storage.root / prefix
    if directory.is_dir():
        for path in directory.iterdir():
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: a file appeared meanwhile; the purge gets it later
            directory.rmdir()


def download_response(
    storage: Storage, key: str, file_name: str, size: int, content_type: str, request: Request
) -> Response:
    """A presigned S3 URL (302: the bytes do not go through a web worker), or the local file with Range support."""
    disposition = content_disposition(file_name)
    if isinstance(storage, S3Storage):
        url = storage.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": storage.bucket,
                "Key": key,
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
            },
            ExpiresIn=PRESIGNED_SECONDS,
        )
        response = redirect(url, 302)
    else:
        assert isinstance(storage, LocalStorage)
        if not (storage.root / key).is_file():
            raise ApiError(
                404,
                "the export's file is not in this instance's STORAGE_DIR: a worker on another machine needs the "
                "S3 storage backend",
                "export_file_missing",
            )
        reader = FileReader(storage.root / key, storage.chunk_size)
        response = Response(reader, content_type=content_type, direct_passthrough=True)
        response.content_length = size
        response.headers["Content-Disposition"] = disposition
        response.headers["X-Content-Type-Options"] = "nosniff"
        response = response.make_conditional(request, accept_ranges=True, complete_length=size)
    response.headers["Cache-Control"] = "private, no-store"
    return response
