"""The worker retirements the operator page lists: the file format, and a real gunicorn writing it."""

from __future__ import annotations

import json
import time

import pytest
import requests

from ops.retirements import KEEP, append_retirement, recent_retirements, retirements_path
from tests.helpers.servers import run_gunicorn


def test_records_come_back_newest_first_and_bad_lines_are_skipped(tmp_path):
    path = retirements_path(tmp_path)
    append_retirement(path, 101, "max_requests", 500)
    append_retirement(path, 102, "memory", 37, rss_mb=512.345)
    with open(path, "a") as file:
        file.write('{"pid": 103, "reas')  # a write cut by a crash
    assert [(r["pid"], r["reason"], r["requests"], r["rss_mb"]) for r in recent_retirements(path)] == [
        (102, "memory", 37, 512.3),
        (101, "max_requests", 500, None),
    ]


def test_the_file_is_cut_back_to_the_last_records(tmp_path):
    path = retirements_path(tmp_path)
    for pid in range(KEEP * 2 + 1):
        append_retirement(path, pid, "max_requests", 1)
    lines = path.read_text().splitlines()
    assert len(lines) == KEEP
    assert json.loads(lines[-1])["pid"] == KEEP * 2
    assert recent_retirements(path, limit=3)[0]["pid"] == KEEP * 2


def test_missing_file_and_unwritable_place_are_not_errors(tmp_path):
    assert recent_retirements(tmp_path / "nothing.jsonl") == []
    blocker = tmp_path / "file"
    blocker.write_text("")
    append_retirement(blocker / "sub" / "r.jsonl", 1, "memory", 1)  # parent is a file: OSError swallowed


@pytest.mark.gunicorn
def test_a_worker_reaching_max_requests_is_listed_with_its_reason(server_env, tmp_path, auth):
    env = {**server_env, "GUNICORN_WORKERS": "1", "GUNICORN_MAX_REQUESTS": "3", "GUNICORN_MAX_REQUESTS_JITTER": "0"}
    closing = {**auth, "Connection": "close"}
    with run_gunicorn(env, tmp_path / "gunicorn.log") as server:
        first = requests.get(server.url("/api/monitoring/memory"), headers=closing, timeout=30).json()["worker"]["pid"]
        for _ in range(2):
            requests.get(server.url("/health"), headers=closing, timeout=30)
        deadline = time.monotonic() + 20  # the retiring worker stops accepting on its next 1 s tick
        while True:
            report = requests.get(server.url("/api/monitoring/memory"), headers=closing, timeout=30).json()
            if report["worker"]["pid"] != first or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert report["worker"]["pid"] != first, "the worker was not replaced after max_requests"
    assert {"pid": first, "reason": "max_requests", "requests": 3} == {
        key: report["retirements"][0][key] for key in ("pid", "reason", "requests")
    }
