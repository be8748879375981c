"""Without Chromium or playwright the browser tests skip, and the reason says how to enable them."""

from __future__ import annotations

import importlib.util

from tests.helpers import browser


def test_a_missing_chromium_names_the_install_commands(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    reason = browser.missing_browser()
    assert reason is not None
    assert "apt-get install chromium" in reason
    assert "pip install -r backend/requirements-dev.txt" in reason


def test_a_missing_playwright_names_the_install_commands(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "playwright" else real(name))
    reason = browser.missing_browser()
    assert reason is not None and reason.startswith("playwright is not installed")
    assert "pip install -r backend/requirements-dev.txt" in reason
