"""An ingest checkpoints SQLite's write-ahead log on a thread of its own, and leaves no thread behind."""

import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from ledger.adapters.checkpoints import wal_checkpoints
from ledger.services.ingest import ingest_file

ROWS = 2_000


def _wal_without_checkpoints(path):
    """A WAL database whose writer never checkpoints: only a checkpoint can grow the database file."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 500,) for _ in range(ROWS)])
    conn.execute("COMMIT")
    return conn


def _threads():
    return [t for t in threading.enumerate() if t.name == "wal-checkpoints"]


def test_the_thread_copies_the_log_into_the_database_file(tmp_path):
    path = tmp_path / "ledger.db"
    writer = _wal_without_checkpoints(path)
    before = path.stat().st_size
    with wal_checkpoints(create_engine(f"sqlite:///{path}"), every=timedelta(milliseconds=10)):
        deadline = time.monotonic() + 30
        while path.stat().st_size <= before and time.monotonic() < deadline:
            time.sleep(0.01)
    assert path.stat().st_size > before + ROWS * 500 // 2
    assert _threads() == []
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (ROWS,)
    writer.close()


def test_the_thread_stops_when_the_run_fails(tmp_path):
    path = tmp_path / "ledger.db"
    _wal_without_checkpoints(path).close()
    with pytest.raises(RuntimeError), wal_checkpoints(create_engine(f"sqlite:///{path}")):
        assert len(_threads()) == 1
        raise RuntimeError
    assert _threads() == []


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://postgres@127.0.0.1:1/none"],
                         ids=["in-memory", "server"])
def test_nothing_to_checkpoint_outside_a_sqlite_file(url):
    with wal_checkpoints(create_engine(url)):
        assert _threads() == []


def test_a_missing_file_is_not_made(tmp_path):
    path = tmp_path / "absent.db"
    with wal_checkpoints(create_engine(f"sqlite:///{path}")):
        pass
    assert not path.exists()


def test_an_ingest_checkpoints_its_own_store(sqlite_app, tmp_path, monkeypatch):
    seen = []

    @contextmanager
    def spy(engine):
        seen.append(engine)
        yield

    monkeypatch.setattr("ledger.services.ingest.wal_checkpoints", spy)
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    ingest_file(sqlite_app, str(path))
    assert seen == [sqlite_app.engine]
