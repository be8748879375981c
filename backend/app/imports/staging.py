"""Workbooks kept between the web import's dry run and its confirmation, so a person uploads them once.

The API's client re-sends the files with its ``decisions``; a browser without JavaScript cannot (a
page does not keep a file), so ``/imports`` stages the files here, previews them with a dry run,
and imports the same bytes when the person confirms. Both runs go through
:func:`app.imports.importer.import_sources`, the API's own rules.

A staging is a directory ``STORAGE_DIR/tmp/staged-imports/<token>/`` holding the files and a
``manifest.json`` (names, sha256, sniffed types, the account that staged them). Only that account
can use it; it is deleted once imported, when discarded, and by the sweep after
:data:`STAGING_MAX_AGE` seconds (a person who walked away).
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import ApiError
from app.imports.importer import IMPORT_TYPES, SourceFile
from app.uploads.streaming import Upload, receive
from ops.leftovers import temp_dir

STAGING_MAX_AGE = 6 * 3600
MANIFEST = "manifest.json"
TOKEN_BYTES = 16


def staging_root(storage_dir: str) -> Path:
    return temp_dir(storage_dir) / "staged-imports"


def stage(
    uploads: Iterator[Upload], storage_dir: str, limit: int, user_id: int | None, settings: Mapping[str, object]
) -> str:
    """Write every upload to a new staging directory; the token that names it.

    ``settings`` (the import's options chosen with the files: sheet, create_clients) are kept with them.

    A file that is not XLSX/CSV or too large raises (415/413) and leaves nothing staged.
    """
    sweep(storage_dir)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    directory = staging_root(storage_dir) / token
    directory.mkdir(parents=True)
    files = []
    try:
        for index, upload in enumerate(uploads):
            path = directory / f"{index:02d}.bin"
            with open(path, "wb") as out:
                received = receive(upload, out.write, limit, IMPORT_TYPES)
            files.append(
                {"filename": upload.filename, "sha256": received.sha256, "content_type": received.content_type}
            )
        if not files:
            raise ApiError(400, "no file to import: choose one or more workbooks", "malformed_upload")
        manifest = {"user_id": user_id, "created": time.time(), "settings": dict(settings), "files": files}
        (directory / MANIFEST).write_text(json.dumps(manifest))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return token


@dataclass(frozen=True)
class Staged:
    sources: list[SourceFile]
    settings: dict[str, Any]


def staged(storage_dir: str, token: str, user_id: int | None) -> Staged:
    """The staged files as the importer's sources; 404 when the staging is unknown, expired or someone else's."""
    directory = _directory(storage_dir, token)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = None
    if not manifest or manifest.get("user_id") != user_id or time.time() - manifest["created"] > STAGING_MAX_AGE:
        raise ApiError(404, "this import is no longer staged: choose the files again", "not_found")
    sources = [
        SourceFile(item["filename"], str(directory / f"{index:02d}.bin"), item["sha256"], item["content_type"])
        for index, item in enumerate(manifest["files"])
    ]
    return Staged(sources, manifest.get("settings", {}))


def discard(storage_dir: str, token: str) -> None:
    shutil.rmtree(_directory(storage_dir, token), ignore_errors=True)


def sweep(storage_dir: str, now: float | None = None) -> int:
    """Remove stagings older than :data:`STAGING_MAX_AGE`; how many were removed."""
    root = staging_root(storage_dir)
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - STAGING_MAX_AGE
    removed = 0
    for directory in root.iterdir():
        try:
            old = directory.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if old:
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed


def _directory(storage_dir: str, token: str) -> Path:
    if not token or len(token) > 64 or not token.replace("-", "").replace("_", "").isalnum():
        raise ApiError(404, "this import is no longer staged: choose the files again", "not_found")
    return staging_root(storage_dir) / token
