"""Fixtures of the exchange tests: one ledger per store that ingested a file of every message type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ledger.services.application import OutpatientPooling
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import IngestReport, ingest_file
from tests.exchange.scenario import every_type
from tests.exchange.stores import BOTH, open_store
from tests.support import write_jsonl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ledger.adapters.store import Store


@dataclass
class Ingested:
    app: OutpatientPooling
    report: IngestReport
    path: Path
    messages: list[dict[str, Any]]


@pytest.fixture(scope="module", params=BOTH)
def module_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per module and kind (SQLite, PostgreSQL)."""
    yield from open_store(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def every_type_ledger(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    """The file of every message type, ingested once per module on each store. Tests only read it."""
    messages = every_type()
    path = write_jsonl(tmp_path_factory.mktemp("exchange") / "every-type.jsonl", *messages)
    app = bootstrap(module_store)
    try:
        report = ingest_file(app, str(path))
        yield Ingested(app, report, path, messages)
    finally:
        app.close()
