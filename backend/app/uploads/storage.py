"""Where document bytes live: a local directory or an S3-compatible bucket, behind one small interface.

Writing is two-phase so that a half-received file is never visible: :meth:`Storage.begin` returns a
:class:`PendingObject` that collects chunks under a temporary name, and only
:meth:`PendingObject.commit` moves it to its final key (the key is derived from the sha256, which is
known only once the last chunk went through). Leaving the ``with`` block without committing removes
whatever was written. Reading returns an :class:`ObjectReader`: an iterator of chunks that can seek,
which is what Werkzeug's range handling needs to serve ``Range`` requests without reading the skipped
part.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from flask import Flask

from ops.leftovers import part_name, s3_client, s3_temp_key, temp_dir
from values import MB

log = logging.getLogger(__name__)
# S3 multipart parts must be at least 5 MiB (except the last): the smallest part is the least memory.
S3_PART_SIZE = 5 * MB
EXTENSION_KEY = "nextops.storage"
# Chunks are gathered into 64 KB write() calls: with small chunk sizes a syscall per chunk is 2x slower.
WRITE_BUFFER = 64 * 1024


def key_for(sha256: str) -> str:
    """``ab/cd/abcd...``: the storage key of a file, derived from its hash only (no client input)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class PendingObject(Protocol):
    """Bytes being received under a temporary name."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self, key: str) -> None: ...

    def discard(self) -> None: ...


class ObjectReader(Protocol):
    """Chunks of a stored object from the current position; ``seek`` moves the start."""

    def __iter__(self) -> ObjectReader: ...

    def __next__(self) -> bytes: ...

    def seekable(self) -> bool: ...

    def seek(self, position: int) -> int: ...

    def tell(self) -> int: ...

    def close(self) -> None: ...


class Storage(Protocol):
    def begin(self) -> PendingObject: ...

    def open(self, key: str) -> ObjectReader: ...

    def delete(self, key: str) -> None: ...


@contextlib.contextmanager
def pending(storage: Storage) -> Iterator[PendingObject]:
    """``with pending(storage) as obj:`` anything not committed when the block ends is removed."""
    obj = storage.begin()
    try:
        yield obj
    finally:
        try:
            obj.discard()
        except Exception:  # the error that brought us here (if any) is the one to report
            log.exception("could not remove a temporary upload object")


class LocalPending:
    """A temp file under ``<root>/tmp/``, renamed into place on commit (same filesystem: atomic).

    Its name carries this worker's PID (``upload-<pid>-<random>.part``): if the worker is killed, the
    master removes it (:mod:`ops.leftovers`).
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        directory = temp_dir(root)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / part_name("upload")
        # Closed by commit() or discard(), which pending() always calls.
        self._file: BinaryIO | None = open(self.path, "xb", buffering=WRITE_BUFFER)  # noqa: SIM115
        self._committed = False

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)

    def commit(self, key: str) -> None:
        """fsync, then rename: after a crash the final path holds the whole file or nothing."""
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        final = self._root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, final)
        self._committed = True

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._committed:
            self.path.unlink(missing_ok=True)


class FileReader:
    """A seekable chunk iterator over a local file, opened on first use (a 304 never opens it)."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        self._path = path
        self._chunk_size = chunk_size
        self._position = 0
        self._file: BinaryIO | None = None

    def __iter__(self) -> FileReader:
        return self

    def __next__(self) -> bytes:
        if self._file is None:
            self._file = open(self._path, "rb")  # noqa: SIM115  (closed by close())
            self._file.seek(self._position)
        chunk = self._file.read(self._chunk_size)
        if not chunk:
            raise StopIteration
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, position: int) -> int:
        self._position = position
        if self._file is not None:
            self._file.seek(position)
        return position

    def tell(self) -> int:
        return self._file.tell() if self._file is not None else self._position

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LocalStorage:
    """Files under ``root`` (``STORAGE_DIR``, e.g. a Railway volume); temp files in ``root/tmp``."""

    def __init__(self, root: str | Path, chunk_size: int) -> None:
        self.root = Path(root)
        self.chunk_size = chunk_size

    def begin(self) -> LocalPending:
        return LocalPending(self.root)

    def open(self, key: str) -> FileReader:
        return FileReader(self.root / key, self.chunk_size)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class S3Pending:
    """Buffers one part (5 MiB) at a time; small files become one PUT to the final key.

    A file larger than a part goes to a multipart upload under a temporary key; commit completes it
    and copies it server-side to the final key (its name depends on the hash, known only at the end).
    Any failure aborts the multipart upload, so no parts linger in the bucket; the temporary key holds
    this instance's name and worker's PID (``tmp/<instance>/<pid>-<random>``) so that the master aborts it if
    the worker is killed, and only this instance's master.
    """

    def __init__(self, client: Any, bucket: str, instance: str) -> None:
        self._client = client
        self._bucket = bucket
        self._temp_key = s3_temp_key(instance)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._temp_complete = False
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        if len(self._buffer) >= S3_PART_SIZE:
            self._send_part()

    def _send_part(self) -> None:
        if self._upload_id is None:
            upload = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._temp_key)
            self._upload_id = upload["UploadId"]
        number = len(self._parts) + 1
        body, self._buffer = self._buffer, bytearray()
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self._temp_key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self, key: str) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=self._buffer)
            self._buffer = bytearray()
            self._done = True
            return
        if self._buffer:
            self._send_part()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._temp_key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._temp_complete = True
        self._client.copy_object(
            Bucket=self._bucket, Key=key, CopySource={"Bucket": self._bucket, "Key": self._temp_key}
        )
        self._client.delete_object(Bucket=self._bucket, Key=self._temp_key)
        self._done = True

    def discard(self) -> None:
        """Remove the temporary object or the unfinished multipart upload (no-op after commit)."""
        self._buffer = bytearray()
        if self._done:
            return
        self._done = True
        if self._temp_complete:
            self._client.delete_object(Bucket=self._bucket, Key=self._temp_key)
        elif self._upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._temp_key, UploadId=self._upload_id)


class S3Reader:
    """A seekable chunk iterator over an S3 object: one ranged GET from the position, sent lazily."""

    def __init__(self, client: Any, bucket: str, key: str, chunk_size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._chunk_size = chunk_size
        self._position = 0
        self._chunks: Iterator[bytes] | None = None
        self._body: Any = None

    def __iter__(self) -> S3Reader:
        return self

    def __next__(self) -> bytes:
        if self._chunks is None:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-")
            self._body = answer["Body"]
            self._chunks = self._body.iter_chunks(self._chunk_size)
        chunk = next(self._chunks)
        self._position += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, position: int) -> int:
        if self._chunks is not None:
            raise OSError("S3Reader can only seek before the first read")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None


class S3Storage:
    """Objects in an S3-compatible bucket (AWS, MinIO, R2...); temp objects under ``tmp/``."""

    def __init__(self, client: Any, bucket: str, chunk_size: int, instance: str) -> None:
        self.client = client
        self.bucket = bucket
        self.chunk_size = chunk_size
        self.instance = instance

    def begin(self) -> S3Pending:
        return S3Pending(self.client, self.bucket, self.instance)

    def open(self, key: str) -> S3Reader:
        return S3Reader(self.client, self.bucket, key, self.chunk_size)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def get_storage(app: Flask) -> Storage:
    """The app's storage backend, built on first use from ``STORAGE_BACKEND`` and cached on the app."""
    storage = app.extensions.get(EXTENSION_KEY)
    if storage is None:
        config = app.config
        if config["STORAGE_BACKEND"] == "s3":
            if not config["S3_BUCKET"]:
                raise RuntimeError("STORAGE_BACKEND=s3 needs S3_BUCKET")
            storage = S3Storage(
                s3_client(config), config["S3_BUCKET"], config["UPLOAD_CHUNK_SIZE"], config["INSTANCE_NAME"]
            )
        else:
            storage = LocalStorage(config["STORAGE_DIR"], config["UPLOAD_CHUNK_SIZE"])
        app.extensions[EXTENSION_KEY] = storage
    return storage
