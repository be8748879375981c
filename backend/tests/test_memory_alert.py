"""One recommended MEMORY_ALERT_MB: 40% of the container's cgroup memory limit (400 MB for 1 GB), used by the app
when the variable is unset and recommended by check_memory.py."""

from __future__ import annotations

import pytest

from app import create_app
from ops.cgroup import read_cgroup_memory, recommended_alert_mb
from ops.memory_report import Thresholds, monitoring_thresholds
from values import MB


@pytest.mark.parametrize(("limit", "expected"), [(1024 * MB, 400), (512 * MB, 200), (2048 * MB, 810), (None, 400)])
def test_recommendation_is_40_percent_of_the_limit(limit, expected):
    assert recommended_alert_mb(limit) == expected


def test_unset_alert_is_derived_from_this_container(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMORY_ALERT_MB", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "STORAGE_DIR": str(tmp_path)})
    cgroup = read_cgroup_memory()
    assert app.config["MEMORY_ALERT_MB"] == recommended_alert_mb(cgroup.limit if cgroup else None)


def test_an_explicit_alert_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMORY_ALERT_MB", "700")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "STORAGE_DIR": str(tmp_path)})
    assert app.config["MEMORY_ALERT_MB"] == 700


def test_check_memory_reports_the_derived_value_for_an_unset_variable():
    thresholds = monitoring_thresholds({}, Thresholds(), cgroup_limit=1024 * MB)
    assert thresholds["memory_alert_mb"] == 400
    assert thresholds["recommended_memory_alert_mb"] == 400
