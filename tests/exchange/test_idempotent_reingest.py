"""Ingesting a file again books nothing: every line is already present (or refused again)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.services.ingest import ingest_file
from tests.exchange.scenario import every_type, read_model_rows
from tests.support import item, member, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import OutpatientPooling


def test_the_same_file_twice_books_nothing_the_second_time(app: OutpatientPooling, tmp_path: Path) -> None:
    messages = every_type()
    path = write_jsonl(tmp_path / "every-type.jsonl", *messages)
    first = ingest_file(app, str(path))
    assert (first.booked, first.refused) == (len(messages), 0)
    position = app.recorder.max_notification_id()
    rows = read_model_rows(app)

    second = ingest_file(app, str(path))

    assert (second.lines, second.booked, second.present, second.refused) == (len(messages), 0, len(messages), 0)
    assert second.errors == []
    assert second.summary() == f"{len(messages)} lines: 0 booked, {len(messages)} already present, 0 refused"
    assert app.recorder.max_notification_id() == position
    assert read_model_rows(app) == rows


def test_the_same_file_twice_with_a_batch_of_one(app: OutpatientPooling, tmp_path: Path) -> None:
    messages = every_type()
    path = write_jsonl(tmp_path / "every-type.jsonl", *messages)
    ingest_file(app, str(path), batch_size=1)
    position = app.recorder.max_notification_id()
    second = ingest_file(app, str(path), batch_size=1)
    assert (second.booked, second.present, second.refused) == (0, len(messages), 0)
    assert app.recorder.max_notification_id() == position


def test_refused_lines_are_refused_again_and_the_rest_is_present(app: OutpatientPooling, tmp_path: Path) -> None:
    messages = [*every_type()[:8], visit("S9", "M404", "H3", "2024-03-20", item("10.00")), member("M9")]
    path = write_jsonl(tmp_path / "mixed.jsonl", *messages)
    first = ingest_file(app, str(path))
    assert (first.booked, first.refused) == (9, 1)
    position = app.recorder.max_notification_id()

    second = ingest_file(app, str(path))

    assert (second.booked, second.present, second.refused) == (0, 9, 1)
    assert second.errors == first.errors
    assert app.recorder.max_notification_id() == position
