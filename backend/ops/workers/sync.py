"""gunicorn's sync worker with JSON error answers (see :mod:`ops.workers`)."""

from gunicorn.workers.sync import SyncWorker

from ops.workers import JsonErrorsMixin


class JsonErrorSyncWorker(JsonErrorsMixin, SyncWorker):
    """``GUNICORN_WORKER_CLASS=sync``, gunicorn's own error answers as JSON."""
