"""Stores opened once per module, for tests that share one ingested ledger and only read it.

The same two stores as ``tests/conftest.py`` (a SQLite file; a fresh PostgreSQL database
when ``LEDGER_TEST_POSTGRES_URL`` names a server), created once per module instead of once
per test: ingesting a year of closes on each store for every read-only check would cost
more than the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ledger.adapters.store import Store
from tests.conftest import fresh_postgres_database

if TYPE_CHECKING:
    from collections.abc import Iterator

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def open_store(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A fresh store of ``kind``; the PostgreSQL database is dropped afterwards."""
    if kind == "sqlite":
        yield Store.parse(str(tmp_path_factory.mktemp("ledger") / "ledger.db"))
        return
    yield from fresh_postgres_database()
