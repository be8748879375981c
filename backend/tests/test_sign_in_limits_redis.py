"""With ``REDIS_URL`` the sign-in limits are shared: failures counted by one instance lock the account on another.

Two real gunicorn instances on their own ports, one Redis (database 7 of the local server, emptied
before and after). With the in-memory default each instance would count alone, which is what the
second test shows.
"""

from __future__ import annotations

import re

import pytest
import requests

from app.accounts.users import create_user
from tests.helpers.servers import run_gunicorn

pytestmark = pytest.mark.gunicorn
REDIS_URL = "redis://127.0.0.1:6379/7"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def redis_db():
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}: start one to run the shared-limit tests")
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def account(app):
    with app.app_context():
        create_user("ana@plg.sv", "Ana Martínez", "jefe_operaciones", PASSWORD)


def sign_in(server, password: str) -> int:
    session = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(server.url("/login"), timeout=10).text)
    data = {"email": "ana@plg.sv", "password": password, "csrf_token": token.group(1)}
    return session.post(server.url("/login"), data=data, headers={"Accept": "application/json"}, timeout=10).status_code


def two_instances(server_env, tmp_path, **env):
    settings = dict(server_env, GUNICORN_WORKERS="1", LOGIN_LIMIT_ACCOUNT="3 per 15 minutes", **env)
    first = run_gunicorn(settings, tmp_path / "a.log")
    second = run_gunicorn(settings, tmp_path / "b.log")
    return first, second


def test_failures_on_one_instance_lock_the_account_on_the_other(account, redis_db, server_env, tmp_path):
    first, second = two_instances(server_env, tmp_path, REDIS_URL=REDIS_URL)
    with first as a, second as b:
        assert [sign_in(a, "wrong password") for _ in range(3)] == [401, 401, 401]
        assert sign_in(b, PASSWORD) == 429, "B must see A's failures"
    assert any(b"LIMITER" in key for key in redis_db.keys("*")), "the counters live in Redis"


def test_without_redis_each_instance_counts_alone(account, server_env, tmp_path):
    first, second = two_instances(server_env, tmp_path)
    with first as a, second as b:
        assert [sign_in(a, "wrong password") for _ in range(3)] == [401, 401, 401]
        assert sign_in(a, PASSWORD) == 429
        assert sign_in(b, PASSWORD) == 200
