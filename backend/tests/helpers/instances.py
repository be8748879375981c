"""Two NextOps instances side by side, as replicas run on Railway: the harness of the multi-instance proof.

:func:`two_instances` starts two real gunicorn masters (``servers.run_gunicorn``) on different free loopback
ports. They share what replicas share, and nothing else:

- PostgreSQL: a schema of its own (``nextops_instances_<pid>``) in ``TEST_DATABASE_URL``, migrated by the real
  Alembic chain, dropped afterwards;
- Redis: ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/6``), the sign-in rate limits' storage (and the
  RQ queue's); the harness empties that database number at start and at the end, and only that one;
- an S3 bucket on moto's server (a real HTTP S3 endpoint on a loopback port, as ``test_uploads_s3.py`` uses);
- ``SECRET_KEY``, so that a session cookie signed by one instance is valid on the other.

Each instance has its own ``STORAGE_DIR`` (import spools) and its own metrics directory (per port), as two
containers would. :meth:`Cluster.start_worker` runs one ``flask rq-worker`` beside them with the same
environment, for the background-export legs (the command comes with the background exports; without it
the call raises). Tests use it through ``test_two_instances.py``; ``bench/scale.py`` runs the same setup.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.servers import BACKEND_DIR, SERVER_SECRET_KEY, GunicornServer, run_gunicorn

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
S3_CREDENTIALS = {"S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test", "S3_REGION": "us-east-1"}


def shared_services_missing(database_url: str | None = None) -> str | None:
    """Why the harness cannot run here (a sentence for ``pytest.skip``), or None when it can."""
    if not (database_url or os.environ.get("TEST_DATABASE_URL")):
        return "the two-instance harness needs PostgreSQL: set TEST_DATABASE_URL (SQLite is one file, not shared)"
    import redis

    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"the two-instance harness needs Redis at {url} (TEST_REDIS_URL): {exc}"
    return None


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL


@contextlib.contextmanager
def postgres_schema(base_url: str, schema: str) -> Iterator[str]:
    """A migrated, empty schema in ``base_url``'s database, dropped afterwards; yields its URL."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(base_url.replace("postgres://", "postgresql://", 1)), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        from app import create_app
        from app.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SERVER_SECRET_KEY})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def s3_bucket() -> Iterator[dict[str, str]]:
    """moto's S3 server on a free loopback port with one fresh bucket; yields the ``S3_*`` variables."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        settings = {
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": f"nextops-{uuid.uuid4().hex[:12]}",
            "S3_ENDPOINT_URL": f"http://{host}:{port}",
            **S3_CREDENTIALS,
        }
        bucket_client(settings).create_bucket(Bucket=settings["S3_BUCKET"])
        yield settings
    finally:
        server.stop()


def bucket_client(settings: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=settings["S3_ENDPOINT_URL"],
        region_name=settings["S3_REGION"],
        aws_access_key_id=settings["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=settings["S3_SECRET_ACCESS_KEY"],
    )


@contextlib.contextmanager
def redis_database(url: str) -> Iterator[str]:
    """The Redis database ``url`` names, emptied before and after (only that database number)."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@dataclass
class Cluster:
    """Two instances (``a``, ``b``) and what they share; ``env`` is what both were started with."""

    a: GunicornServer
    b: GunicornServer
    env: dict[str, str]
    s3: dict[str, str]
    work_dir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def instances(self) -> tuple[GunicornServer, GunicornServer]:
        return self.a, self.b

    def bucket(self) -> tuple[list[str], list[str]]:
        """(object keys, keys of multipart uploads still open) in the shared bucket."""
        client = bucket_client(self.s3)
        bucket = self.s3["S3_BUCKET"]
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(obj["Key"] for obj in objects), sorted(upload["Key"] for upload in uploads)

    def flask(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A ``flask`` command against the shared services (``tokens create``, ``users create``...)."""
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=BACKEND_DIR,
            env={**os.environ, **self.env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def token(self, role: str = "admin") -> str:
        name = f"instances-{role}-{uuid.uuid4().hex[:8]}"
        return self.flask("tokens", "create", "--name", name, "--role", role).stdout.strip().splitlines()[-1]

    def start_worker(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """One ``flask rq-worker`` with the instances' environment (plus ``env``); stopped (by PID) with the cluster."""
        help_text = subprocess.run(
            [sys.executable, "-m", "flask", "--help"],
            cwd=BACKEND_DIR,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        if "rq-worker" not in help_text:
            raise RuntimeError("this branch has no `flask rq-worker` command yet (background exports)")
        log = open(self.work_dir / f"rq-worker-{len(self.workers)}.log", "wb")  # noqa: SIM115  (the child owns it)
        with log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "rq-worker", *args],
                cwd=BACKEND_DIR,
                env={**os.environ, **self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(process)
        return process

    def stop_workers(self, timeout: float = 30) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


def instance_env(database_url: str, redis: str, s3: dict[str, str], storage_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis,
        "SECRET_KEY": SERVER_SECRET_KEY,
        "STORAGE_DIR": str(storage_dir),
        "LOG_LEVEL": "INFO",
        "GUNICORN_WORKERS": "2",
        **s3,
    }


@contextlib.contextmanager
def two_instances(
    work_dir: Path, extra_env: dict[str, str] | None = None, database_url: str | None = None
) -> Iterator[Cluster]:
    """Start the shared services and the two instances; stop and remove everything afterwards.

    ``database_url`` (default ``TEST_DATABASE_URL``) names the PostgreSQL database the schema is made in.
    Call :func:`shared_services_missing` first: this raises if PostgreSQL or Redis does not answer.
    """
    schema = f"nextops_instances_{os.getpid()}"
    with (
        postgres_schema(database_url or os.environ["TEST_DATABASE_URL"], schema) as database_url,
        redis_database(redis_url()) as redis,
        s3_bucket() as s3,
    ):
        env = {**instance_env(database_url, redis, s3, work_dir / "storage"), **(extra_env or {})}
        env_a = {**env, "STORAGE_DIR": str(work_dir / "storage-a")}
        env_b = {**env, "STORAGE_DIR": str(work_dir / "storage-b")}
        with (
            run_gunicorn(env_a, work_dir / "instance-a.log") as a,
            run_gunicorn(env_b, work_dir / "instance-b.log") as b,
        ):
            cluster = Cluster(a, b, env, s3, work_dir)
            try:
                yield cluster
            finally:
                cluster.stop_workers()
