"""A demo city (``ledger demo``) booked once per module, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import make_runner
from tests.exchange.stores import BOTH, open_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from click.testing import Result

    from ledger.adapters.store import Store

ADMDVS, YEAR = "410200", 2025


@pytest.fixture(scope="module", params=BOTH)
def demo_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store holding the demo city's year, closed and cleared."""
    for store in open_store(request.param, tmp_path_factory):
        folder = tmp_path_factory.mktemp("demo")
        result = make_runner(store.url)("demo", "--dir", str(folder))
        assert result.exit_code == 0, result.stdout + result.stderr
        yield store


@pytest.fixture(scope="module")
def cli(demo_store: Store) -> Callable[..., Result]:
    """``ledger --db DEMO …`` run in process."""
    return make_runner(demo_store.url)
