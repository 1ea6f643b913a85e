"""Stores for the tests: a SQLite file always, and PostgreSQL when a server is given.

``LEDGER_TEST_POSTGRES_URL`` names a server (``postgresql://user@host:port/dbname``) on which
each test gets a fresh database. Without it the PostgreSQL cases are skipped, unless
``LEDGER_REQUIRE_POSTGRES=1`` (as CI sets), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from ledger.adapters.store import Store
from ledger.services.application import OutpatientPooling
from ledger.services.bootstrap import bootstrap

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

POSTGRES_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("LEDGER_REQUIRE_POSTGRES") == "1"


def _admin_engine():
    admin = Store.parse(POSTGRES_URL)
    return create_engine(admin.sqlalchemy_url(), isolation_level="AUTOCOMMIT")


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    return Store.parse(str(tmp_path / "ledger.db"))


def fresh_postgres_database() -> Generator[Store, None, None]:
    """A new PostgreSQL database on the test server, dropped afterwards (or a skip without a server)."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("LEDGER_REQUIRE_POSTGRES=1 but LEDGER_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set LEDGER_TEST_POSTGRES_URL)")
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = Store.parse(POSTGRES_URL)
    auth = base.user + (f":{base.password}" if base.password else "")
    try:
        yield Store.parse(f"postgresql://{auth}@{base.host}:{base.port}/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    yield from fresh_postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request) -> Store:
    """Each test that takes ``store`` runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def app(store: Store) -> Iterator[OutpatientPooling]:
    application = bootstrap(store)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def sqlite_app(sqlite_store: Store) -> Iterator[OutpatientPooling]:
    """For tests about rules and flows that need no second database."""
    application = bootstrap(sqlite_store)
    try:
        yield application
    finally:
        application.close()


_postgres_passed: list[str] = []


def pytest_collection_modifyitems(items) -> None:
    """A test that takes a PostgreSQL store directly is a PostgreSQL case, like the ``postgres`` params."""
    for item in items:
        if "postgres_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Carry the ``postgres`` marker on the report (it crosses to the xdist controller with it)."""
    outcome = yield
    if item.get_closest_marker("postgres") is not None:
        outcome.get_result().user_properties.append(("postgres", True))


def pytest_runtest_logreport(report) -> None:
    """Count the PostgreSQL cases (marked ``postgres``, by their parameter or fixture) that ran and passed."""
    if report.when == "call" and report.passed and ("postgres", True) in report.user_properties:
        _postgres_passed.append(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many PostgreSQL cases ran, so a CI log shows they were not skipped."""
    terminalreporter.write_line(f"PostgreSQL cases passed: {len(_postgres_passed)}")


def pytest_sessionfinish(session, exitstatus) -> None:
    """With LEDGER_REQUIRE_POSTGRES=1, a run in which no PostgreSQL case passed fails."""
    if REQUIRE_POSTGRES and not _postgres_passed and session.testscollected:
        session.exitstatus = 1
