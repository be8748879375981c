"""gunicorn's gevent worker with JSON error answers (see :mod:`ops.workers`)."""

from gunicorn.workers.ggevent import GeventWorker

from ops.workers import JsonErrorsMixin


class JsonErrorGeventWorker(JsonErrorsMixin, GeventWorker):
    """The default worker: gevent, gunicorn's own 400/414/431/500 answers as JSON."""
