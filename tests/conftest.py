"""Every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TOS_TEST_POSTGRES_URL (a server URL; each test run creates and drops its
own database on it). Without it the PostgreSQL half is skipped with a visible reason, unless
TOS_REQUIRE_POSTGRES=1, which turns that into a failure. Tests isolate themselves by making
their own organizations: tenancy keeps them apart, so nothing depends on leftovers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("TOS_ENV", "test")
# In-process tests drain the outbox themselves (tests.outbox_drain); the e2e tests run the real
# server and worker processes with the real job queue.
os.environ["TOS_JOB_QUEUE"] = "off"

settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

BACKENDS = ["sqlite", "postgresql"]
PG_URL = os.environ.get("TOS_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("TOS_REQUIRE_POSTGRES") == "1"


def pytest_report_header(config: pytest.Config) -> str:
    if PG_URL:
        return f"TOS databases: SQLite and PostgreSQL ({make_url(PG_URL).host})"
    return "TOS databases: SQLite only — PostgreSQL half SKIPPED (set TOS_TEST_POSTGRES_URL)"


def _pg_database(tmp_name: str) -> Iterator[str]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("TOS_REQUIRE_POSTGRES=1 but TOS_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL half skipped: TOS_TEST_POSTGRES_URL is not set")
    server = make_url(PG_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{tmp_name}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL half skipped: {exc}")
    try:
        yield server.set(database=tmp_name).render_as_string(hide_password=False)
    finally:
        from tos.db import session as db_session

        for url, factory in list(db_session._factories.items()):
            if tmp_name in url:
                factory.engine.dispose()
                del db_session._factories[url]
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{tmp_name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A freshly migrated database of each kind, for the whole test run."""
    from tos.db.migrate import upgrade
    from tos.db.session import use_database

    name = f"tos_test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / f"{name}.db"
        gen: Iterator[str] = iter([f"sqlite:///{path}"])
    else:
        gen = _pg_database(name)
    url = next(gen)
    factory = use_database(url)
    upgrade(factory.engine)
    yield url
    for _ in gen:
        pass


@pytest.fixture
def db(database_url: str):
    """The SessionFactory of this test's backend, made current for the app under test."""
    from tos.db.session import use_database

    return use_database(database_url)


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


_apps: dict[str, object] = {}


@pytest.fixture
def client(db):
    from fastapi.testclient import TestClient

    from tos.main import create_app

    app = _apps.setdefault("app", create_app())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def org(db):
    """A fresh organization with a user and API key for every role."""
    from tests.factories import make_org

    return make_org(db)


@pytest.fixture
def other_org(db):
    from tests.factories import make_org

    return make_org(db)
