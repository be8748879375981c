"""A real site for real-browser tests and screenshots: seeded SQLite, one account per role, gunicorn, Chromium.

Playwright drives Debian's Chromium (``/usr/bin/chromium``) by executable path, because
``playwright install`` cannot download its own browser build here. Tests and ``make screenshots``
share this module, so the screenshots show exactly the site the tests check.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.servers import SERVER_SECRET_KEY, GunicornServer, run_gunicorn

CHROMIUM = Path("/usr/bin/chromium")
HOW_TO_ENABLE = (
    "to run the browser tests: apt-get install chromium; pip install -r backend/requirements-dev.txt"
)
SEED = {"ots": 40, "invoices": 120, "seed_value": 12}


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str
    name: str


ACCOUNTS = {
    role: Account(f"{role}@nextops.test", f"browser-{role}-passphrase", role, name)
    for role, name in (
        ("operativo", "Olga Operativa"),
        ("finanzas", "Fabio Finanzas"),
        ("jefe_operaciones", "Julia Jefa"),
        ("admin", "Adán Admin"),
    )
}


def missing_browser() -> str | None:
    """Why the browser tests cannot run on this machine, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return f"playwright is not installed; {HOW_TO_ENABLE}"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing; {HOW_TO_ENABLE}"
    return None


@dataclass
class Site:
    """The running server, its database URL and storage, for tests that check what a page did."""

    server: GunicornServer
    database_url: str
    storage_dir: Path
    work_dir: Path

    def url(self, path: str = "") -> str:
        return self.server.url(path)

    def app(self) -> Any:
        """An app on the same database, for reading back what the browser wrote."""
        from app import create_app

        return create_app(
            {"SQLALCHEMY_DATABASE_URI": self.database_url, "STORAGE_DIR": str(self.storage_dir), "TESTING": True}
        )


def prepare_database(work_dir: Path) -> tuple[str, Path]:
    """Migrate a fresh SQLite database, seed the demo data and create one account per role."""
    from flask_migrate import upgrade

    from app import create_app
    from app.accounts.users import create_user
    from app.cli.seed import seed
    from app.extensions import db

    url = f"sqlite:///{work_dir / 'site.db'}"
    storage = work_dir / "storage"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(storage), "SECRET_KEY": SERVER_SECRET_KEY})
    with app.app_context():
        upgrade()
        seed(**SEED)
        for account in ACCOUNTS.values():
            create_user(account.email, account.name, account.role, account.password)
        db.engine.dispose()
    return url, storage


@contextmanager
def run_site(work_dir: Path, workers: int = 2) -> Iterator[Site]:
    """Seed a database in ``work_dir`` and serve it with a real gunicorn on a free loopback port."""
    url, storage = prepare_database(work_dir)
    env = {
        "DATABASE_URL": url,
        "STORAGE_DIR": str(storage),
        "GUNICORN_WORKERS": str(workers),
        "LOG_LEVEL": "WARNING",
        "SECRET_KEY": SERVER_SECRET_KEY,
    }
    with run_gunicorn(env, work_dir / "gunicorn.log") as server:
        yield Site(server, url, storage, work_dir)


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (``--no-sandbox``: CI runs as root)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, site: Site, role: str, next_path: str = "/") -> None:
    """Sign in through the real form, as a person would."""
    account = ACCOUNTS[role]
    page.goto(site.url("/login?next=" + next_path))
    page.fill("input[name=email]", account.email)
    page.fill("input[name=password]", account.password)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_load_state()
