"""Fixtures of the CLI tests: ``ledger`` run in-process with click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from ledger.entrypoints.cli import main
from tests.exchange.scenario import every_type
from tests.exchange.stores import BOTH, open_store
from tests.support import write_jsonl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ledger.adapters.store import Store


def make_runner(db: str) -> Callable[..., Result]:
    """``ledger --db DB ARGS…``; ``env`` is passed to the runner; ``db_option=False`` leaves ``--db`` out."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, db_option: bool = True) -> Result:
        argv = ["--db", db, *args] if db_option else list(args)
        return runner.invoke(main, argv, env=env, catch_exceptions=False)

    return run


def error_of(result: Result) -> tuple[str, str]:
    """The one line of a failed command, as (message, code): ``--json`` runs print it as JSON."""
    assert result.exit_code != 0, result.stdout
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    if line.startswith("{"):
        out = json.loads(line)
        return out["error"], out["code"]
    message, _, code = line.removeprefix("ledger: ").rpartition(" [")
    return message, code.rstrip("]").split(", ")[0]


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.fixture(scope="module", params=BOTH)
def module_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per module and kind (SQLite, PostgreSQL)."""
    yield from open_store(request.param, tmp_path_factory)


@pytest.fixture
def db(store: Store) -> str:
    """The database argument of ``--db``: a file path for SQLite, a URL for PostgreSQL."""
    return store.url


@pytest.fixture
def ledger(db: str) -> Callable[..., Result]:
    """The command on a fresh store of each kind."""
    return make_runner(db)


@pytest.fixture(scope="module")
def shared_db(module_store: Store, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of each kind into which ``ledger ingest`` booked the file of every message type.

    Shared by a module's read-only query tests.
    """
    path = write_jsonl(tmp_path_factory.mktemp("cli") / "every-type.jsonl", *every_type())
    result = make_runner(module_store.url)("ingest", "--quiet", str(path))
    assert result.exit_code == 0, result.stderr
    return module_store.url


@pytest.fixture
def queried(shared_db: str) -> Callable[..., Result]:
    """The command on the shared, already ingested store."""
    return make_runner(shared_db)
