"""Accounts and sessions: sign-in/out, one answer for unknown and wrong, limits, expiry, CSRF, tokens."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from app.accounts import sessions
from app.accounts.users import create_user, deactivate, set_password
from app.auth import issue_token
from app.extensions import db
from app.models import ApiToken, User, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture
def ana(app):
    with app.app_context():
        return create_user("Ana@PLG.sv", "Ana Martínez", "jefe_operaciones", PASSWORD).id


def csrf_from(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, email="ana@plg.sv", password=PASSWORD, json=True):
    headers = {"Accept": "application/json"} if json else {}
    data = {"email": email, "password": password, "csrf_token": csrf_from(client)}
    return client.post("/login", data=data, headers=headers)


def test_sign_in_by_email_or_username_any_case_then_out(client, ana):
    response = sign_in(client, email="ANA@plg.SV")
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["role"] == "jefe_operaciones" and body["user"]["role_label"] == "Jefe de operaciones"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    me = client.get("/api/session").get_json()
    assert me["via"] == "session" and me["csrf_token"]
    assert client.get("/api/invoices").status_code == 200
    out = client.post("/logout", data={"csrf_token": me["csrf_token"]}, headers={"Accept": "application/json"})
    assert out.status_code == 200
    assert client.get("/api/invoices").status_code == 401
    other = sign_in(client.application.test_client(), email="ana")
    assert other.status_code == 200


def test_html_form_redirects_and_shows_who(client, ana):
    response = sign_in(client, json=False)
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert "Ana Martínez" in client.get("/login").get_data(as_text=True)


def test_unknown_email_and_wrong_password_get_the_same_answer(client, ana):
    wrong = sign_in(client, password="not the password")
    unknown = sign_in(client, email="nobody@plg.sv")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    html_wrong = sign_in(client, password="nope", json=False)
    html_unknown = sign_in(client, email="nobody@plg.sv", json=False)
    strip = lambda r: re.sub(r'value="[^"]+"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(html_wrong) == strip(html_unknown)


def test_login_without_csrf_token_is_refused(client, ana):
    response = client.post("/login", data={"email": "ana@plg.sv", "password": PASSWORD})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"


def test_failed_sign_ins_are_limited_per_account_and_reset(app, client, ana):
    app.config["LOGIN_LIMIT_ACCOUNT"] = "3 per 2 seconds"
    for _ in range(3):
        assert sign_in(client, password="wrong password").status_code == 401
    limited = sign_in(client)  # even the right password: the account is locked for the window
    assert limited.status_code == 429 and limited.headers.get("Retry-After")
    assert limited.get_json()["error"]["code"] == "too_many_requests"
    time.sleep(2.1)
    assert sign_in(client).status_code == 200


def test_failed_sign_ins_are_limited_per_ip(app, client, ana):
    app.config["LOGIN_LIMIT_IP"] = "4 per 15 minutes"
    for n in range(4):
        assert sign_in(client, email=f"nobody{n}@plg.sv").status_code == 401
    assert sign_in(client).status_code == 429
    other_ip = app.test_client()
    other_ip.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert sign_in(other_ip).status_code == 200


def test_successful_sign_ins_do_not_count(app, client, ana):
    app.config["LOGIN_LIMIT_ACCOUNT"] = "2 per 15 minutes"
    for _ in range(4):
        assert sign_in(client).status_code == 200


def test_session_idle_timeout_and_absolute_lifetime(app, client, ana, monkeypatch):
    assert sign_in(client).status_code == 200
    start = time.time()
    monkeypatch.setattr(sessions, "now", lambda: start + 59 * 60)
    assert client.get("/api/ots").status_code == 200  # within the idle hour: refreshes last use
    monkeypatch.setattr(sessions, "now", lambda: start + 59 * 60 + 61 * 60)
    assert client.get("/api/ots").status_code == 401  # idle past SESSION_IDLE_MINUTES
    monkeypatch.undo()
    assert sign_in(client).status_code == 200
    start = time.time()
    for step in range(1, 15):  # active every 50 minutes, for 11 h 40 min
        monkeypatch.setattr(sessions, "now", lambda step=step: start + step * 50 * 60)
        assert client.get("/api/ots").status_code == 200, step
    monkeypatch.setattr(sessions, "now", lambda: start + 12 * 3600 + 1)
    assert client.get("/api/ots").status_code == 401  # SESSION_MAX_HOURS, however active


def test_deactivation_and_password_change_end_live_sessions(app, client, ana):
    assert sign_in(client).status_code == 200
    with app.app_context():
        set_password(db.session.get(User, ana), "another long password")
    assert client.get("/api/ots").status_code == 401
    assert sign_in(client, password="another long password").status_code == 200
    with app.app_context():
        deactivate(db.session.get(User, ana))
    assert client.get("/api/ots").status_code == 401
    assert sign_in(client, password="another long password").status_code == 401


def test_cookie_only_cross_site_post_is_refused_and_changes_nothing(app, client, ana):
    assert sign_in(client).status_code == 200
    body = {"name": "Cliente Cruzado S.A."}
    no_token = client.post("/api/tokens", json={"name": "forged"})
    assert no_token.status_code == 400 and no_token.get_json()["error"]["code"] == "csrf_failed"
    foreign = client.post("/api/tokens", json={"name": "forged"}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code in (400, 403) and foreign.get_json()["error"]["code"] == "csrf_failed"
    bad = client.post("/api/tokens", json={"name": "forged"}, headers={"X-CSRFToken": "forged-token"})
    assert bad.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all() == []
    token = client.get("/api/session").get_json()["csrf_token"]
    ok = client.post("/api/tokens", json={"name": "mine"}, headers={"X-CSRFToken": token})
    assert ok.status_code == 201, ok.get_json()
    assert body  # the same refusal covers every write endpoint: the guard runs before any view


def test_bearer_requests_need_no_csrf_token(client, auth):
    assert client.post("/api/tokens", json={"name": "svc", "service": True}, headers=auth).status_code == 201


def test_users_cli(runner, app):
    result = runner.invoke(
        args=["users", "create", "--email", "Jefe@PLG.sv", "--name", "Jefe", "--role", "finanzas", "--password-stdin"],
        input="a very long password\n",
    )
    assert result.exit_code == 0, result.output
    duplicate = runner.invoke(
        args=["users", "create", "--email", "jefe@plg.sv", "--name", "J", "--role", "admin", "--password-stdin"],
        input="a very long password\n",
    )
    assert duplicate.exit_code != 0 and "already" in duplicate.output
    short = runner.invoke(
        args=["users", "create", "--email", "xy@plg.sv", "--name", "X", "--role", "admin", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "10 characters" in short.output
    assert runner.invoke(args=["users", "set-role", "jefe", "admin"]).exit_code == 0
    assert (
        runner.invoke(
            args=["users", "reset-password", "jefe", "--password-stdin"], input="new long password\n"
        ).exit_code
        == 0
    )
    assert runner.invoke(args=["users", "deactivate", "jefe@plg.sv"]).exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert "jefe@plg.sv\tjefe\tadmin\tinactive" in listing
    demo = runner.invoke(args=["users", "demo-admin"]).output.split()
    assert demo[0] == "admin@nextops.local" and len(demo[1]) >= 10
    client = app.test_client()
    assert sign_in(client, email=demo[0], password=demo[1]).status_code == 200
    again = runner.invoke(args=["users", "demo-admin"]).output.split()
    assert again[1] != demo[1] and client.get("/api/ots").status_code == 401  # new password, old session over


# Tokens ---------------------------------------------------------------------------------------------


def test_token_of_an_account_is_capped_by_its_role_and_dies_with_it(app, client, ana):
    with app.app_context():
        user = db.session.get(User, ana)
        with pytest.raises(ValueError, match="cannot be admin"):
            issue_token("too-much", "admin", user=user)
        _, secret = issue_token("laptop", "jefe_operaciones", user=user)
        db.session.get(User, ana).role = "operativo"
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/session", headers=headers).get_json()
    assert me["role"] == "operativo" and me["via"] == "token"  # the account's role is the ceiling
    with app.app_context():
        deactivate(db.session.get(User, ana))
    assert client.get("/api/ots", headers=headers).status_code == 401


def test_token_expiry_revoke_and_last_used_once_a_minute(app, client, runner):
    with app.app_context():
        row, secret = issue_token("short", "operativo", expires_at=utcnow() + dt.timedelta(seconds=60))
        token_id = row.id
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/ots", headers=headers).status_code == 200
    with app.app_context():
        first = db.session.get(ApiToken, token_id).last_used_at
    assert first is not None
    assert client.get("/api/ots", headers=headers).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at == first  # not rewritten within the minute
        db.session.get(ApiToken, token_id).last_used_at = first - dt.timedelta(minutes=2)
        db.session.commit()
    client.get("/api/ots", headers=headers)
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at > first - dt.timedelta(minutes=2)
        db.session.get(ApiToken, token_id).expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    expired = client.get("/api/ots", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.get_json()["error"]["message"]
    with app.app_context():
        _, other = issue_token("other", "operativo")
    listing = runner.invoke(args=["tokens", "list"]).output
    assert "\tother\toperativo\tservice\t" in listing
    other_id = listing.strip().splitlines()[-1].split("\t")[0]
    assert runner.invoke(args=["tokens", "revoke", other_id]).exit_code == 0
    assert client.get("/api/ots", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_tokens_api_admin_sees_all_people_their_own(app, client, auth, ana):
    with app.app_context():
        create_user("ops@plg.sv", "Ops", "operativo", PASSWORD)
    created = client.post("/api/tokens", json={"name": "svc", "service": True, "role": "admin"}, headers=auth)
    assert created.status_code == 201 and created.get_json()["token"].startswith("nxo_")
    assert sign_in(client, email="ops@plg.sv").status_code == 200
    csrf = {"X-CSRFToken": client.get("/api/session").get_json()["csrf_token"]}
    mine = client.post("/api/tokens", json={"name": "mine", "expires_in_days": 30}, headers=csrf)
    assert mine.status_code == 201 and mine.get_json()["role"] == "operativo" and mine.get_json()["expires_at"]
    higher = client.post("/api/tokens", json={"name": "x", "role": "admin"}, headers=csrf)
    assert higher.status_code == 403
    service = client.post("/api/tokens", json={"name": "x", "service": True}, headers=csrf)
    assert service.status_code == 403 and service.get_json()["error"]["required_role"] == "admin"
    invalid = client.post("/api/tokens", json={"name": "", "expires_in_days": 0, "colour": 1}, headers=csrf)
    assert invalid.status_code == 422
    assert set(invalid.get_json()["error"]["fields"]) == {"name", "expires_in_days", "colour"}
    own = client.get("/api/tokens").get_json()["items"]
    assert [item["name"] for item in own] == ["mine"]
    svc_id = created.get_json()["id"]
    assert client.delete(f"/api/tokens/{svc_id}", headers=csrf).status_code == 404  # not theirs
    assert client.delete(f"/api/tokens/{own[0]['id']}", headers=csrf).status_code == 204
    everything = client.get("/api/tokens?all=1", headers=auth).get_json()["items"]
    assert {item["name"] for item in everything} >= {"svc", "mine", "test-admin"}


def test_secure_cookie_and_proxy_fix_behind_one_proxy(database_url, tmp_path):
    from app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "STORAGE_DIR": str(tmp_path),
            "SECRET_KEY": "k",
            "SESSION_COOKIE_SECURE": True,
            "TRUSTED_PROXIES": 1,
        }
    )
    client = app.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]


def test_every_argon2_operation_hands_its_memory_back(monkeypatch):
    """19 MiB per hash would stay in each worker's heap after its first sign-in without the trim."""
    from app.accounts import passwords

    trims = []
    monkeypatch.setattr(passwords, "malloc_trim", lambda: trims.append(1) or "released memory")
    stored = passwords.hash_password(PASSWORD)
    assert passwords.check_password(stored, PASSWORD) and not passwords.check_password(stored, "wrong password")
    assert not passwords.check_password(None, PASSWORD)
    assert len(trims) >= 4
