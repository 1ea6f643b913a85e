"""The appending process keeps PostgreSQL's statistics of the log (``ledger.adapters.statistics``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from sqlalchemy import create_engine, text

from ledger.adapters import statistics
from ledger.exchange.messages import validate_message
from ledger.services.bootstrap import bootstrap
from tests.support import member


def _analysed(recorder: PostgresApplicationRecorder) -> tuple[int, bool]:
    """The rows the log held when last analysed (-1: never), and whether its streams have statistics."""
    with recorder.datastore.get_connection() as conn:
        rows = conn.execute("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = %s",
                            (recorder.events_table_name,)).fetchone()
        found = conn.execute("SELECT count(*) AS n FROM pg_stats WHERE tablename = %s AND attname = 'originator_id'",
                             (recorder.events_table_name,)).fetchone()
    assert rows is not None and found is not None
    return rows["n"], found["n"] == 1


def _wait_for_counted(store, table: str, rows: int) -> None:
    """Until the server's statistics count ``rows`` written to ``table`` since its last ANALYZE (at most 10 s)."""
    engine = create_engine(store.sqlalchemy_url())
    try:
        deadline = time.monotonic() + 10
        with engine.connect() as conn:
            while conn.scalar(text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = :table"),
                              {"table": table}) != rows and time.monotonic() < deadline:
                conn.rollback()
                time.sleep(0.05)
    finally:
        engine.dispose()


@contextmanager
def _ledger(store) -> Iterator[tuple[Any, PostgresApplicationRecorder]]:
    """A process's application on ``store``, and its log's recorder."""
    app = bootstrap(store)
    try:
        assert isinstance(app.recorder, PostgresApplicationRecorder)
        yield app, app.recorder
    finally:
        app.close()


def _enrol(app, prefix: str, first: int, count: int) -> None:
    """Enrol ``count`` members in one batch: one event each."""
    app.book([validate_message(member(f"{prefix}{n}")) for n in range(first, first + count)], catch_up=False)


def test_the_log_is_analysed_once_it_reaches_the_threshold_and_again_once_grown_by_half(postgres_store, monkeypatch):
    monkeypatch.setattr(statistics, "ANALYZE_FROM", 20)
    with _ledger(postgres_store) as (app, recorder):
        _enrol(app, "M", 0, 19)
        assert _analysed(recorder) == (-1, False)  # 19 events: not yet
        _enrol(app, "M", 19, 1)
        assert _analysed(recorder) == (20, True)
        _enrol(app, "M", 20, 19)  # 39: due again at 20 more (the threshold is more than half of 20)
        assert _analysed(recorder)[0] == 20
        _enrol(app, "M", 39, 1)
        assert _analysed(recorder)[0] == 40
        _enrol(app, "M", 40, 20)
        assert _analysed(recorder)[0] == 60  # grown by half of 40: due at 60


def test_a_process_that_comes_to_a_log_counts_what_was_appended_since_its_last_analyse(postgres_store, monkeypatch):
    """A second process (or a restart) asks the server how far the log is from being due."""
    monkeypatch.setattr(statistics, "ANALYZE_FROM", 20)
    with _ledger(postgres_store) as (first, recorder):
        _enrol(first, "M", 0, 15)
    # A closed session's counts reach the server's statistics as it ends.
    _wait_for_counted(postgres_store, recorder.events_table_name, 15)
    with _ledger(postgres_store) as (second, recorder):
        _enrol(second, "N", 0, 5)
        assert _analysed(recorder) == (20, True)


def test_a_log_that_cannot_be_analysed_is_left_as_it_is_and_tried_again_later(caplog):
    """A failure to read or refresh the statistics never fails the append that was committed before it."""

    class Unreachable:
        schema, events_table_name = "public", "yibao_events"

        @contextmanager
        def get_connection(self) -> Iterator[Any]:
            raise psycopg.OperationalError("the server went away")
            yield

    class Recorder:
        datastore = Unreachable()
        events_table_name = "yibao_events"

    recorder: Any = Recorder()
    statistics.appended(recorder, 5)
    assert [r.message.split(":")[0] for r in caplog.records] == [
        "the log's statistics could not be read", "the log could not be analysed (tried again after 10000 more rows)"]
    caplog.clear()
    statistics.appended(recorder, statistics.ANALYZE_FROM - 1)
    assert caplog.records == []  # not yet due again
