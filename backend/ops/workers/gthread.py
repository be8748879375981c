"""gunicorn's threaded worker with JSON error answers (see :mod:`ops.workers`)."""

from gunicorn.workers.gthread import ThreadWorker

from ops.workers import JsonErrorsMixin


class JsonErrorThreadWorker(JsonErrorsMixin, ThreadWorker):
    """``GUNICORN_WORKER_CLASS=gthread``, gunicorn's own error answers as JSON."""
