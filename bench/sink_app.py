"""A bare upload sink, the yardstick of ``bench/upload_sink.py`` (never deployed).

``gunicorn sink_app:app`` (from backend/ with bench/ on PYTHONPATH, so the same gunicorn.conf.py and
worker class as ours) answers every POST by reading ``wsgi.input`` in 64 KiB pieces, hashing them with
sha256 and writing them to a file under ``SINK_DIR``, then fsync and delete: the least any upload
endpoint must do with the bytes. No Flask, no parsing of the body (a multipart body is hashed whole).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable

PIECE = 64 * 1024


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    size = 0
    directory = os.environ.get("SINK_DIR") or tempfile.gettempdir()
    with tempfile.NamedTemporaryFile(dir=directory, prefix="sink-", delete=True) as file:
        while piece := stream.read(PIECE):
            digest.update(piece)
            file.write(piece)
            size += len(piece)
        file.flush()
        os.fsync(file.fileno())
    body = json.dumps({"sha256": digest.hexdigest(), "size": size}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
