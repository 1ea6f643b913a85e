"""A rebuild's writer process (ledger/adapters/writer.py): the same read models, and a failure stops the rebuild.

DESIGN.md §1: read models are disposable and a rebuild gives what incremental processing gave;
each batch is one transaction with the views' positions, so a rebuild stopped part-way keeps
whole batches only, whether the writer raised or died.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from ledger.adapters.store import Store
from ledger.adapters.writer import HELD_BATCHES, Writer, WriterError
from ledger.projections.base import Record, View, positions
from ledger.projections.roster import RosterView, roster_members
from ledger.projections.runner import EventSource, ProjectionRunner
from tests.accounts.helpers import dump_read_models, every_movement


def test_design_a_rebuild_through_the_writer_in_small_batches_gives_what_incremental_processing_gave(app):
    """Batches of 7 events, each sent to the writer while the next is processed."""
    every_movement(app)
    incremental = dump_read_models(app)
    runner = ProjectionRunner(EventSource.of(app), app.engine, batch_size=7, store=app.store)

    runner.rebuild()

    assert dump_read_models(app) == incremental


def test_a_log_of_one_batch_is_rebuilt_in_this_process_to_the_same_read_models(app, monkeypatch):
    """Nothing to write while a next batch is read, so no writer process is started for it."""
    every_movement(app)
    incremental = dump_read_models(app)
    head = app.recorder.max_notification_id()

    def no_writer(_store: Any) -> None:
        raise AssertionError("a writer was started for a log of one batch")

    monkeypatch.setattr("ledger.projections.runner.Writer", no_writer)
    ProjectionRunner(EventSource.of(app), app.engine, batch_size=head, store=app.store).rebuild()

    assert dump_read_models(app) == incremental


def die(_conn: Any) -> None:
    """A write that kills the writer process."""
    os._exit(3)


class Failing(View):
    """Follows every event; its write in batch ``failing`` fails (``how``: raise in the database, or die)."""

    name = "failing"
    topics: ClassVar[tuple[str, ...]] = ()
    tables = ()

    def __init__(self, how: str, failing: int) -> None:
        self.how = how
        self.failing = failing
        self.batches = 0

    def begin(self, conn: Any) -> None:
        self.batches += 1

    def process(self, conn: Any, record: Record) -> None:
        pass

    def flush(self, conn: Any) -> None:
        if self.batches < self.failing:
            return
        if self.how == "raise":
            conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
        else:
            conn.defer(die)


@pytest.mark.parametrize(("how", "said"), [("raise", "no_such_table"), ("die", "exit code 3")])
def test_design_a_failing_writer_stops_the_rebuild_with_whole_batches_written(app, how, said):
    """What is committed is whole batches, rows and positions alike; the failing batch left nothing.

    The runner holds batches while the writer starts or writes the one before (up to
    ``HELD_BATCHES``) and sends those it holds as one transaction: which batches share the
    failing one's transaction depends on the writer's pace, but never part of one.
    """
    every_movement(app)
    batch, failing = 3, HELD_BATCHES + 2
    runner = ProjectionRunner(EventSource.of(app), app.engine, [RosterView(), Failing(how, failing)],
                              batch_size=batch, store=app.store)

    with pytest.raises(WriterError, match=said):
        runner.rebuild()

    ends = [n.id for n in app.recorder.select_notifications(1, batch * (failing - 1))][batch - 1::batch]
    with app.engine.connect() as conn:
        reached = dict(conn.execute(select(positions.c.name, positions.c.position)).all())
        members = conn.execute(select(func.count()).select_from(roster_members)).scalar()
    assert reached["roster"] == reached["failing"] in ends
    written = app.recorder.select_notifications(1, reached["roster"])
    assert members == sum(n.topic == "yibao:Member.Enrolled" for n in written) > 0


def test_a_writer_that_cannot_start_stops_the_rebuild_with_a_writer_error(tmp_path):
    """Its database cannot be opened: the runner is told so, not left with a broken pipe."""
    writer = Writer(Store.parse(str(tmp_path / "no such folder" / "ledger.db")))
    try:
        with pytest.raises(WriterError, match="exit code 1"):
            writer.commit([])  # held, or raises if the writer has already ended
            writer.close()  # waits for the writer to be ready, which it never is
    finally:
        writer.close(failed=True)
