"""Temporary upload files and S3 multipart uploads that a dead worker can leave behind, and their removal.

Uploads and imports write to a temporary object first (``STORAGE_DIR/tmp/*.part``, or an S3 multipart
upload under ``tmp/``) and remove it themselves on every error, but a worker that is SIGKILLed (what the
OOM killer sends when a container hits its memory limit) runs no cleanup at all. So every temporary name
carries the PID of the worker that owns it:

- ``<kind>-<pid>-<random>.part`` locally (``kind``: ``upload``, ``import``, ``intake``);
  ``tmp/<instance>/<pid>-<random>`` on S3, where ``<instance>`` is ``config.instance_name`` (host name and
  port): replicas share the bucket, and PIDs repeat from one container to the next;
- when a worker exits, the master (gunicorn's ``child_exit``) removes that PID's files and aborts its
  multipart uploads at once, before it forks the replacement (so a reused PID cannot own any yet);
- when the master starts, nothing of its own is in flight: every ``.part`` file (the directory is the
  container's), every multipart upload or object under ``tmp/<instance>/`` and every one in an older
  release's ``tmp/<pid>-`` form is removed. Another instance's ``tmp/<other>/`` is left alone: it may be
  uploading right now (``test_two_instances.py`` starts a third instance in the middle of an upload).

No Flask here (``ops/`` is imported by ``gunicorn.conf.py`` in the master): the settings come as the
plain mapping ``config.load_config()`` returns; boto3 is imported only when the backend is S3.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PART_SUFFIX = ".part"
S3_TEMP_PREFIX = "tmp/"
PART_NAME = re.compile(r"(?P<kind>[a-z]+)-(?P<pid>[0-9]+)-.+\.part")
# The keys of releases before instance names: tmp/<pid>-<random>, one replica only.
LEGACY_S3_TEMP = re.compile(r"tmp/[0-9]+-[^/]*")


def temp_dir(storage_dir: str | Path) -> Path:
    return Path(storage_dir) / "tmp"


def part_prefix(kind: str) -> str:
    """``upload-<pid>-``: the start of every temp file name this process creates."""
    return f"{kind}-{os.getpid()}-"


def part_name(kind: str) -> str:
    return f"{part_prefix(kind)}{uuid.uuid4().hex}{PART_SUFFIX}"


def s3_instance_prefix(instance: str) -> str:
    return f"{S3_TEMP_PREFIX}{instance}/"


def s3_temp_key(instance: str) -> str:
    return f"{s3_instance_prefix(instance)}{os.getpid()}-{uuid.uuid4().hex}"


def owner_pid(name: str) -> int | None:
    """The PID in a temp file name, or None for a name without one."""
    match = PART_NAME.fullmatch(name)
    return int(match["pid"]) if match else None


def remove_parts(storage_dir: str | Path, pid: int | None = None) -> int:
    """Delete the ``.part`` files of worker ``pid`` (all of them when ``pid`` is None); return how many."""
    directory = temp_dir(storage_dir)
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob(f"*{PART_SUFFIX}"):
        if pid is not None and owner_pid(path.name) != pid:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def s3_client(config: Mapping[str, Any], **options: Any) -> Any:
    """A boto3 S3 client from the ``S3_*`` settings (imported here: the local backend never loads botocore)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=config["S3_ENDPOINT_URL"],
        region_name=config["S3_REGION"],
        aws_access_key_id=config["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=config["S3_SECRET_ACCESS_KEY"],
        config=Config(**options) if options else None,
    )


def abort_s3_temporaries(client: Any, bucket: str, prefix: str, only: re.Pattern[str] | None = None) -> int:
    """Abort every multipart upload and delete every object under ``prefix`` (whose key matches ``only``)."""
    removed = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            if only is None or only.fullmatch(upload["Key"]):
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if only is None or only.fullmatch(obj["Key"]):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
                removed += 1
    return removed


def _s3_cleanup(config: Mapping[str, Any], *selections: tuple[str, re.Pattern[str] | None]) -> int:
    """Remove the temporaries of each ``(prefix, key pattern)`` selection from the configured bucket."""
    if config["STORAGE_BACKEND"] != "s3" or not config["S3_BUCKET"]:
        return 0
    # Short timeouts: this runs in gunicorn's master loop, which must not hang on a slow endpoint.
    client = s3_client(config, connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
    try:
        return sum(abort_s3_temporaries(client, config["S3_BUCKET"], prefix, only) for prefix, only in selections)
    finally:
        client.close()  # no pooled socket stays open in the master for the workers to inherit


def clean_at_start(config: Mapping[str, Any]) -> int:
    """Master start (``on_starting``): no request is in flight, so every temporary is a leftover."""
    removed = remove_parts(config["STORAGE_DIR"])
    own = s3_instance_prefix(config["INSTANCE_NAME"])
    try:
        removed += _s3_cleanup(config, (own, None), (S3_TEMP_PREFIX, LEGACY_S3_TEMP))
    except Exception as exc:  # the service must start even if the bucket cannot be listed now
        log.warning("could not abort leftover S3 multipart uploads under %s: %s", own, exc)
    return removed


def clean_after_worker(config: Mapping[str, Any], pid: int) -> int:
    """A worker exited (``child_exit``; after a SIGKILL it cleaned nothing): remove what it owned."""
    removed = remove_parts(config["STORAGE_DIR"], pid)
    try:
        removed += _s3_cleanup(config, (f"{s3_instance_prefix(config['INSTANCE_NAME'])}{pid}-", None))
    except Exception as exc:
        log.warning("could not abort S3 multipart uploads of worker %s: %s", pid, exc)
    return removed
