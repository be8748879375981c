"""The S3 backend against a real HTTP S3 endpoint (moto's server mode on a loopback port)."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from app.uploads.storage import EXTENSION_KEY as STORAGE_KEY
from app.uploads.storage import S3_PART_SIZE, PartBuffer, S3Pending, get_storage, key_for
from tests.helpers.bodies import BodyStream
from values import MB


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_app(app, s3_endpoint):
    """The test app switched to STORAGE_BACKEND=s3 with a fresh bucket."""
    bucket = f"nextops-{uuid.uuid4().hex[:12]}"
    app.config.update(
        STORAGE_BACKEND="s3",
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=s3_endpoint,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID="test",
        S3_SECRET_ACCESS_KEY="test",
    )
    app.extensions.pop(STORAGE_KEY, None)
    get_storage(app).client.create_bucket(Bucket=bucket)
    return app


def bucket_state(app) -> tuple[list[str], list[str]]:
    """(object keys, keys of multipart uploads still open): what an upload left in the bucket."""
    storage = get_storage(app)
    objects = storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
    uploads = storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])
    return sorted(obj["Key"] for obj in objects), [upload["Key"] for upload in uploads]


def pdf_bytes(size: int) -> bytes:
    return (b"%PDF-1.7\n" + os.urandom(size))[:size]


@pytest.mark.parametrize("size", [1000, S3_PART_SIZE + 123_457], ids=["single-put", "multipart-then-copy"])
def test_s3_round_trip(s3_app, client, auth, size):
    data = pdf_bytes(size)
    response = client.post("/api/uploads", data={"file": (io.BytesIO(data), "doc.pdf")}, headers=auth)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert bucket_state(s3_app) == ([key_for(body["sha256"])], []), "final key only: no temp object, no open upload"

    full = client.get(body["content_url"], headers=auth)
    assert full.status_code == 200
    assert full.data == data
    assert full.headers["ETag"] == f'"{body["sha256"]}"'
    part = client.get(body["content_url"], headers={**auth, "Range": f"bytes={size - 700}-{size - 201}"})
    assert part.status_code == 206
    assert part.data == data[size - 700 : size - 200]

    again = client.post("/api/uploads", data={"file": (io.BytesIO(data), "again.pdf")}, headers=auth)
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
    assert bucket_state(s3_app) == ([key_for(body["sha256"])], [])


@pytest.fixture
def parts_sent(monkeypatch) -> list[int]:
    """Sizes of the multipart parts sent: proves the failure came after a part was already in the bucket."""
    sizes: list[int] = []
    real = S3Pending._send_part

    def spy(self):
        sizes.append(self._part.used)
        real(self)

    monkeypatch.setattr(S3Pending, "_send_part", spy)
    return sizes


def test_s3_abort_after_a_part_was_sent_leaves_nothing(s3_app, client, auth, parts_sent):
    response = client.post(
        "/api/uploads?filename=cut.pdf",
        input_stream=BodyStream(pdf_bytes(S3_PART_SIZE + MB)),
        headers={**auth, "Content-Type": "application/octet-stream"},
        environ_overrides={"CONTENT_LENGTH": str(3 * S3_PART_SIZE)},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "upload_incomplete"
    assert parts_sent == [S3_PART_SIZE]
    assert bucket_state(s3_app) == ([], []), "the multipart upload was aborted"


def test_s3_limit_after_a_part_was_sent_leaves_nothing(s3_app, client, auth, parts_sent):
    s3_app.config["MAX_UPLOAD_MB"] = 6
    response = client.post(
        "/api/uploads?filename=big.pdf",
        input_stream=BodyStream(pdf_bytes(7 * MB)),
        headers={**auth, "Content-Type": "application/octet-stream"},
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
    )
    assert response.status_code == 413
    assert parts_sent == [S3_PART_SIZE]
    assert bucket_state(s3_app) == ([], [])


class RecordingClient:
    """Stands in for boto3 where only what S3Pending hands over matters: each part's bytes and size."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.bodies: list[object] = []
        self.put: bytes | None = None

    def create_multipart_upload(self, **_kwargs):
        return {"UploadId": "u1"}

    def upload_part(self, Body, PartNumber, **_kwargs):
        assert len(Body) <= S3_PART_SIZE
        self.bodies.append(Body)
        first = Body.read(1000)
        Body.seek(0)  # botocore reads the body for its checksum, then again to send it
        data = Body.read()
        assert data.startswith(first)
        self.parts.append(data)
        return {"ETag": f"e{PartNumber}"}

    def put_object(self, Body, **_kwargs):
        self.put = Body.read()

    def complete_multipart_upload(self, **_kwargs):
        return {}

    def copy_object(self, **_kwargs):
        return {}

    def delete_object(self, **_kwargs):
        return {}


def test_s3_parts_come_from_one_bounded_buffer_reused_for_every_part(monkeypatch):
    """Memory per S3 upload is one part, whatever the file size: the same fixed buffer is filled and sent
    for every part (no growing bytearray), and it is unmapped at the end."""
    buffers: list[PartBuffer] = []
    real_init = PartBuffer.__init__

    def track(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        buffers.append(self)

    monkeypatch.setattr(PartBuffer, "__init__", track)
    data = os.urandom(3 * S3_PART_SIZE + 12345)
    client = RecordingClient()
    pending = S3Pending(client, "bucket", "test-instance")
    position = 0
    for size in [1, 65536, 70000, 5 * MB + 7, 65536] * 10:  # chunks that straddle the part boundaries
        pending.write(data[position : position + size])
        position += size
        if position >= len(data):
            break
    pending.write(data[position:])
    pending.commit("final")
    assert len(buffers) == 1 and buffers[0].capacity == S3_PART_SIZE
    assert [len(part) for part in client.parts] == [S3_PART_SIZE] * 3 + [12345]
    assert b"".join(client.parts) == data
    with pytest.raises(ValueError):
        buffers[0].fill(b"x")  # closed: the mapping was given back


def test_s3_small_file_is_one_put_from_the_same_buffer():
    client = RecordingClient()
    pending = S3Pending(client, "bucket", "test-instance")
    pending.write(b"%PDF-1.7 small")
    pending.commit("final")
    assert client.put == b"%PDF-1.7 small" and client.parts == []
