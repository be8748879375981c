"""Helpers shared by the tests and the benchmarks: a real gunicorn harness and request-body streams."""
