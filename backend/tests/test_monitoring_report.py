"""Pieces of the health report and the gunicorn hooks that need no server: cgroup layouts, status
thresholds, the text layout, memory-based retirement and the inherited-pool disposal."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
from sqlalchemy import text

from app.extensions import db
from ops.cgroup import read_cgroup_memory
from ops.memory_report import Thresholds, classify, render_text
from ops.worker_lifecycle import MemoryRecycler, dispose_inherited_engines, malloc_trim
from values import MB

V1_UNLIMITED = "9223372036854771712"


def write_files(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(content)


def fake_proc(tmp_path: Path, cgroup_lines: str) -> Path:
    proc = tmp_path / "proc"
    write_files(proc / "42", {"cgroup": cgroup_lines})
    return proc


def test_cgroup_v2_in_a_container_namespace(tmp_path):
    root = tmp_path / "cgroup"
    write_files(
        root,
        {
            "cgroup.controllers": "cpu memory pids\n",
            "memory.current": str(700 * MB),
            "memory.max": str(1024 * MB),
            "memory.stat": f"anon {500 * MB}\nfile {150 * MB}\nkernel 1234\n",
        },
    )
    memory = read_cgroup_memory(42, root=root, proc=fake_proc(tmp_path, "0::/\n"))
    assert memory.as_dict() == {
        "version": 2,
        "path": "/",
        "usage_mb": 700.0,
        "limit_mb": 1024.0,
        "anon_mb": 500.0,
        "file_mb": 150.0,
        "usage_percent": 68.4,
    }


def test_cgroup_v2_own_group_without_limit(tmp_path):
    root = tmp_path / "cgroup"
    group = root / "system.slice" / "app.service"
    write_files(group, {"memory.current": str(64 * MB), "memory.max": "max\n", "memory.stat": f"anon {40 * MB}\n"})
    memory = read_cgroup_memory(42, root=root, proc=fake_proc(tmp_path, "0::/system.slice/app.service\n"))
    assert memory.version == 2
    assert memory.path == "/system.slice/app.service"
    assert memory.limit is None
    assert memory.anon == 40 * MB
    assert memory.file is None
    assert memory.as_dict()["usage_percent"] is None


def test_cgroup_v1_hybrid_layout_prefers_total_counters(tmp_path):
    """Like this machine: v1 memory controller, an empty v2 hierarchy mounted at unified/."""
    root = tmp_path / "cgroup"
    write_files(root / "unified", {"cgroup.controllers": ""})
    write_files(root / "memory", {"memory.usage_in_bytes": str(5000 * MB), "memory.limit_in_bytes": V1_UNLIMITED})
    write_files(
        root / "memory" / "process_api" / "abc",
        {
            "memory.usage_in_bytes": str(900 * MB),
            "memory.limit_in_bytes": str(1024 * MB),
            "memory.stat": f"cache {10 * MB}\nrss {20 * MB}\ntotal_cache {300 * MB}\ntotal_rss {550 * MB}\n",
        },
    )
    lines = "4:memory:/process_api/abc\n3:cpuset:/\n0::/\n"
    memory = read_cgroup_memory(42, root=root, proc=fake_proc(tmp_path, lines))
    assert memory.as_dict() == {
        "version": 1,
        "path": "/process_api/abc",
        "usage_mb": 900.0,
        "limit_mb": 1024.0,
        "anon_mb": 550.0,
        "file_mb": 300.0,
        "usage_percent": 87.9,
    }


def test_cgroup_v1_namespace_root_and_unlimited(tmp_path):
    root = tmp_path / "cgroup"
    write_files(
        root / "memory",
        {
            "memory.usage_in_bytes": str(300 * MB),
            "memory.limit_in_bytes": V1_UNLIMITED,
            "memory.stat": f"cache {100 * MB}\nrss {200 * MB}\n",
        },
    )
    memory = read_cgroup_memory(42, root=root, proc=fake_proc(tmp_path, "4:memory:/docker/ffff\n"))
    assert (memory.version, memory.path, memory.limit) == (1, "/", None)
    assert (memory.anon, memory.file) == (200 * MB, 100 * MB)


def test_no_memory_cgroup_visible(tmp_path):
    assert read_cgroup_memory(42, root=tmp_path / "empty", proc=tmp_path / "noproc") is None


def test_this_hosts_cgroup_is_read():
    if not (Path("/sys/fs/cgroup/memory.current").exists() or Path("/sys/fs/cgroup/memory").is_dir()):
        pytest.skip("no cgroup memory controller mounted here")
    memory = read_cgroup_memory()
    assert memory is not None
    assert memory.usage > 0


@pytest.mark.parametrize(
    ("total", "status"),
    [(0, "EXCELLENT"), (499.9, "EXCELLENT"), (500, "GOOD"), (999, "GOOD"), (1000, "WARNING"), (1500, "CRITICAL")],
)
def test_guide_thresholds(total, status):
    assert Thresholds().classify(total) == status


def sample_report(pss_total: float) -> dict:
    processes = [
        {"pid": 10, "role": "master", "rss_mb": 70.0, "pss_mb": 30.0, "uss_mb": 9.0},
        {"pid": 11, "role": "worker", "rss_mb": 80.0, "pss_mb": pss_total - 30.0, "uss_mb": 20.0},
    ]
    return {
        "measured_at": "2026-11-27T00:00:00Z",
        "gunicorn": {
            "master_pid": 10,
            "workers": 1,
            "processes": processes,
            "totals": {"rss_mb": 150.0, "pss_mb": pss_total, "uss_mb": 29.0},
        },
        "cgroup": {
            "version": 2,
            "path": "/",
            "usage_mb": 900.0,
            "limit_mb": 1024.0,
            "anon_mb": 700.0,
            "file_mb": 200.0,
            "usage_percent": 87.9,
        },
        "settings": {"settings": [{"name": "GUNICORN_WORKERS", "value": 5, "recommended": 2}], "source": "test"},
        "thresholds": {"memory_alert_mb": 1500},
    }


@pytest.mark.parametrize(
    ("pss_total", "status", "exit_code"),
    [(90, "EXCELLENT", 0), (800, "GOOD", 0), (1200, "WARNING", 1), (2000, "CRITICAL", 2)],
)
def test_classify_sets_status_exit_code_and_advice(pss_total, status, exit_code):
    report = classify(sample_report(pss_total), Thresholds())
    assert (report["status"], report["exit_code"], report["status_basis"]) == (status, exit_code, "pss_mb")
    advice = "\n".join(report["recommendations"])
    assert "GUNICORN_WORKERS is 5; the recommended value is 2" in advice
    assert "87.9% of its 1024.0 MB limit" in advice
    assert "MEMORY_ALERT_MB (1500) is not below the container limit" in advice
    assert ("rss_delta_mb" in advice) == (status in ("WARNING", "CRITICAL"))


def test_text_layout_mirrors_the_guide():
    text_report = render_text(classify(sample_report(800), Thresholds()))
    lines = text_report.splitlines()
    assert " Memory Usage:" in lines
    assert any(line.startswith("   RSS (Physical):") and "150.0 MB" in line for line in lines)
    assert any(
        line.startswith("   PSS (Proportional):") and "800.0 MB" in line and "<- status" in line for line in lines
    )
    status_at = lines.index(" Status:")
    assert lines[status_at + 1].startswith("   GOOD - Memory usage is acceptable")
    assert " Recommendations:" in lines
    assert "cgroup v2" in text_report


class FakeWorker:
    def __init__(self) -> None:
        self.alive = True
        self.pid = 4242
        self.nr = 17
        self.log = logging.getLogger("test.worker")


def readings(*rss_mb: float):
    values = iter(rss_mb)
    return lambda: (int(next(values) * MB), 0)


def test_recycler_retires_a_worker_still_above_the_limit_after_trim(caplog):
    worker = FakeWorker()
    assert MemoryRecycler(100, read=readings(150, 140)).check(worker) is True
    assert worker.alive is False
    (line,) = [r for r in caplog.records if r.getMessage().startswith("Retiring worker 4242")]
    assert line.levelname == "WARNING"
    assert "140.0 MB above GUNICORN_MAX_WORKER_MEMORY_MB=100 after 17 requests" in line.getMessage()


def test_recycler_keeps_a_worker_that_trim_brought_back_under(caplog):
    caplog.set_level(logging.INFO, logger="test.worker")
    worker = FakeWorker()
    assert MemoryRecycler(100, read=readings(150, 90)).check(worker) is False
    assert worker.alive is True
    assert "back under 100 MB" in caplog.text


def test_recycler_is_quiet_below_the_limit_when_disabled_or_already_retiring():
    worker = FakeWorker()
    MemoryRecycler(100, read=readings(99)).check(worker)
    assert worker.alive is True
    MemoryRecycler(0, read=readings()).check(worker)  # 0 disables: not even a reading
    assert worker.alive is True
    worker.alive = False
    MemoryRecycler(100, read=readings()).check(worker)  # already leaving (max_requests): no reading


def test_early_replacement_signals_the_master_once(monkeypatch):
    from ops import worker_lifecycle

    sent = []
    monkeypatch.setattr(worker_lifecycle.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    worker = FakeWorker()
    worker.ppid = 99
    assert worker_lifecycle.request_early_replacement(worker) is True
    assert worker_lifecycle.request_early_replacement(worker) is False, "a later retirement reason: once only"
    assert sent == [(99, signal.SIGTTIN)]


def test_only_the_request_that_reaches_max_requests_triggers_it():
    from ops.worker_lifecycle import will_reach_max_requests

    worker = FakeWorker()  # nr 17
    worker.max_requests = 19
    assert not will_reach_max_requests(worker)
    worker.nr = 18
    assert will_reach_max_requests(worker)
    worker.alive = False  # shutting down (SIGTERM): the master must not spawn anything
    assert not will_reach_max_requests(worker)


def test_extra_slot_is_given_back_only_above_the_configured_count():
    from types import SimpleNamespace

    from ops.worker_lifecycle import give_back_extra_slot

    arbiter = SimpleNamespace(num_workers=3)
    give_back_extra_slot(arbiter, 2)
    assert arbiter.num_workers == 2
    give_back_extra_slot(arbiter, 2)  # an ordinary crash: the master replaces it as usual
    assert arbiter.num_workers == 2


def test_malloc_trim_reports_what_happened():
    assert malloc_trim() in ("released memory", "had nothing to release", "unavailable")


def test_dispose_inherited_engines_forgets_connections_without_closing_them(app):
    """What post_fork does in each child: the parent's pooled connection must stay usable."""
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        fairy = db.engine.raw_connection()
        inherited = fairy.dbapi_connection
        fairy.close()  # back into the pool, as a connection the master had opened would be
        assert db.engine.pool.checkedin() == 1

        assert dispose_inherited_engines(app) == 1
        assert db.engine.pool.checkedin() == 0
        cursor = inherited.cursor()
        cursor.execute("SELECT 1")  # close=False: the shared connection was not closed
        assert cursor.fetchone()[0] == 1
        cursor.close()
        inherited.close()
    assert dispose_inherited_engines(object()) == 0


def test_served_app_skips_flask_migrate(monkeypatch):
    """gunicorn.conf.py asks for the app without Flask-Migrate/Alembic (bench: ~13 MB of the tree's PSS)."""
    import runpy

    from app import create_app

    monkeypatch.setenv("GUNICORN_WORKER_CLASS", "sync")  # no gevent monkey-patching in the test process
    conf = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    assert "NEXTOPS_MIGRATIONS_CLI=false" in conf["raw_env"]
    served = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "MIGRATIONS_CLI": False})
    assert "migrate" not in served.extensions
    assert "migrate" in create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).extensions


def test_stale_pidfile_is_removed(tmp_path):
    """A killed master's pidfile would stop gunicorn from starting once its PID is reused."""
    import os

    from ops.gunicorn_master import remove_stale_pidfile

    stale = tmp_path / "stale.pid"
    stale.write_text(f"{os.getpid()}\n")  # a live process, but not a gunicorn: what gunicorn would trip on
    assert remove_stale_pidfile(str(stale)) is True
    assert not stale.exists()
    assert remove_stale_pidfile(str(tmp_path / "absent.pid")) is False
