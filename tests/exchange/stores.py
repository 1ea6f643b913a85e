"""Stores opened once per module, for tests that share one ingested ledger and only read it.

The same two stores as ``tests/conftest.py`` (a SQLite file; a fresh PostgreSQL database
when ``LEDGER_TEST_POSTGRES_URL`` names a server), created once per module instead of once
per test: ingesting a year of closes on each store for every read-only check would cost
more than the checks.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from ledger.store import Store
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _admin_engine

if TYPE_CHECKING:
    from collections.abc import Iterator

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def open_store(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A fresh store of ``kind``; the PostgreSQL database is dropped afterwards."""
    if kind == "sqlite":
        yield Store.parse(str(tmp_path_factory.mktemp("ledger") / "ledger.db"))
        return
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
