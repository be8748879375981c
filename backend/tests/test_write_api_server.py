"""The write API through a real gunicorn (2 gevent workers): a browser-style session does the whole
walk, and two PATCHes of the same version sent at the same moment never both apply."""

from __future__ import annotations

import re
import threading

import pytest
import requests

from app.accounts.users import create_user
from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn
PASSWORD = "correct horse battery staple"
ROUNDS = 12


@pytest.fixture
def server(app, server_env, tmp_path):
    with app.app_context():
        create_user("jefa@plg.sv", "Jefa de operaciones", "jefe_operaciones", PASSWORD)
    env = dict(server_env, GUNICORN_WORKER_CLASS="gevent", GUNICORN_WORKERS="2")
    with run_gunicorn(env, tmp_path / "gunicorn.log") as running:
        yield running


def signed_in(server) -> requests.Session:
    """What a browser does: the form's CSRF token, the sign-in, then the token writes send as a header."""
    session = requests.Session()
    form = session.get(server.url("/login"), timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(
        server.url("/login"),
        data={"email": "jefa@plg.sv", "password": PASSWORD, "csrf_token": token},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    session.headers["X-CSRFToken"] = session.get(server.url("/api/session"), timeout=10).json()["csrf_token"]
    return session


def test_a_session_creates_bills_pays_and_reads_the_history(server):
    session = signed_in(server)
    client = session.post(server.url("/api/clients"), json={"name": "Café Izalco S.A."}, timeout=10)
    provider = session.post(
        server.url("/api/providers"), json={"name": "Maersk", "nit": "0614-010190-101-1", "type": "naviera"}, timeout=10
    )
    assert (client.status_code, provider.status_code) == (201, 201), (client.text, provider.text)
    ot = session.post(server.url("/api/ots"), json={"ot_number": "26OT0100", "client_id": client.json()["id"]})
    assert ot.status_code == 201, ot.text
    invoice = session.post(
        server.url("/api/invoices"),
        json={
            "invoice_number": "FE-100",
            "provider_id": provider.json()["id"],
            "cost_type": "FLETE",
            "amount": "1250.50",
            "issue_date": "2026-11-02",
            "ot_id": ot.json()["id"],
        },
        timeout=10,
    )
    assert invoice.status_code == 201, invoice.text
    path, etag = server.url(f"/api/invoices/{invoice.json()['id']}"), invoice.headers["ETag"]
    for kind, target in (("billing", "billed"), ("payment", "paid")):
        moved = session.post(f"{path}/transitions", json={"kind": kind, "to": target}, headers={"If-Match": etag})
        assert moved.status_code == 200, moved.text
        etag = moved.headers["ETag"]
    final = session.get(path, timeout=10).json()
    assert (final["billing_status"], final["payment_status"], final["amount_paid"]) == ("billed", "paid", "1250.50")
    trail = session.get(f"{path}/history", timeout=10).json()["items"]
    assert [row["action"] for row in trail] == ["create", "transition:billing", "transition:payment"]
    assert {row["actor"] for row in trail} == {"jefa@plg.sv"}
    forged = requests.post(server.url("/api/clients"), json={"name": "X"}, cookies=session.cookies, timeout=10)
    assert forged.status_code in (400, 403), "the cookie alone, without the CSRF header, changes nothing"


def race(path: str, version: str, names: list[str], cookies, csrf: str) -> list[requests.Response]:
    """One PATCH per name, all released at the same moment by a barrier, all with the same ``If-Match``."""
    barrier, answers = threading.Barrier(len(names)), []

    def edit(name: str) -> None:
        barrier.wait()
        headers = {"X-CSRFToken": csrf, "If-Match": version}
        answers.append(requests.patch(path, json={"name": name}, headers=headers, cookies=cookies, timeout=30))

    threads = [threading.Thread(target=edit, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_patches_of_the_same_version_at_once_exactly_one_wins(server):
    session = signed_in(server)
    created = session.post(server.url("/api/clients"), json={"name": "Textiles Round 0"}, timeout=10)
    path = server.url(f"/api/clients/{created.json()['id']}")
    for round_number in range(1, ROUNDS + 1):
        version = session.get(path, timeout=10).headers["ETag"]
        names = [f"Textiles {round_number}{side}" for side in "ab"]
        answers = race(path, version, names, session.cookies, session.headers["X-CSRFToken"])
        assert sorted(answer.status_code for answer in answers) == [200, 412], [answer.text for answer in answers]
        loser = next(answer for answer in answers if answer.status_code == 412).json()["error"]
        assert loser["current_version"] == round_number + 1
    trail = session.get(f"{path}/history", timeout=10).json()["items"]
    assert [row["action"] for row in trail].count("update") == ROUNDS, "one audit row per winning edit only"
    assert session.get(path, timeout=10).json()["version"] == ROUNDS + 1
