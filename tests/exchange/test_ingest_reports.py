"""What an ingest reports (issue 20 #7 and #9): dates far from the log's present, file order, reversals.

Each case was booked or misreported on 5a44a6b: a visit dated 2999 was settled, an enrolment
of 1900 booked, schema refusals came out before the booking refusals of earlier lines, and a
second reversal with another reason said "key reused".
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import TYPE_CHECKING

from ledger.exchange.window import DateWindow
from ledger.services.ingest import ingest_file
from tests.exchange.scenario import head, logged
from tests.support import institution, item, member, visit

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import OutpatientPooling

TODAY = date(2024, 3, 20)
"""The clock of these runs: the window's forward bound is measured from the later of it and the log."""


def ingest(app: OutpatientPooling, tmp_path: Path, *messages: dict | bytes, batch_size: int = 200):
    """Ingest ``messages`` (a dict, or a line written as given) with today's date fixed."""
    path = tmp_path / f"in-{head(app)}-{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_bytes(b"".join(m if isinstance(m, bytes) else json.dumps(m).encode() + b"\n" for m in messages))
    return path, ingest_file(app, str(path), batch_size=batch_size, today=TODAY)


def setup(app: OutpatientPooling, tmp_path: Path) -> None:
    _, report = ingest(app, tmp_path, institution("H3"), member("M1"),
                       visit("S1", "M1", "H3", "2024-03-20", item("100.00")))
    assert report.errors == []
    assert app.log_present() == date(2024, 3, 20)


def test_the_window_is_five_years_back_and_a_year_ahead_assumed(sqlite_app):
    window = DateWindow.of(sqlite_app.library, TODAY)
    assert (window.before, window.after) == (1827, 366)
    assert window.article.startswith("项目假设")


def test_a_visit_dated_2999_is_refused_unless_a_backfill(app, tmp_path):
    setup(app, tmp_path)
    before = head(app)
    path, report = ingest(app, tmp_path, visit("S2", "M1", "H3", "2999-01-01", item("100.00")))
    [error] = report.errors
    assert error.startswith(f"{path}:1: visit.settled: date: 2999-01-01 is more than 366 days after the log's "
                            "present 2024-03-20")
    assert "[date_out_of_window, 项目假设" in error
    assert head(app) == before


def test_an_enrolment_of_1900_is_refused_unless_a_backfill(app, tmp_path):
    setup(app, tmp_path)
    before = head(app)
    _, report = ingest(app, tmp_path, member("M2", day="1900-01-01"))
    assert "date: 1900-01-01 is more than 1827 days before the log's present 2024-03-20" in report.errors[0]
    assert head(app) == before
    _, report = ingest(app, tmp_path, member("M2", day="1900-01-01", backfill=True))
    assert (report.booked, report.errors) == (1, [])


def test_the_window_edges_by_hand(app, tmp_path):
    """2024-03-20 − 1827 days = 2019-03-20 (five years with 29 February 2020 and 2024); + 366 days = 2025-03-21.

    (The present moves with what is accepted, so the later date is tried first.)
    """
    setup(app, tmp_path)
    _, report = ingest(app, tmp_path, member("E1", day="2019-03-20"), member("E2", day="2019-03-19"),
                       member("E4", day="2025-03-22"), member("E3", day="2025-03-21"))
    assert report.booked == 2
    assert [e.split(": ")[1:3] for e in report.errors] == [["member.enrolled", "date"]] * 2
    assert ":2: " in report.errors[0] and ":3: " in report.errors[1]


def test_a_late_settlement_date_far_ahead_is_refused(app, tmp_path):
    setup(app, tmp_path)
    _, report = ingest(app, tmp_path, visit("S3", "M1", "H3", "2024-03-21", item("1.00"), setl_date="2999-12-31"))
    assert ": setl_date: 2999-12-31 is more than 366 days after" in report.errors[0]


def test_an_empty_log_takes_its_present_from_its_first_lines(app, tmp_path):
    """With nothing booked, only the clock bounds the future; the first dates then set the present.

    2024-01-01 − 1827 days = 2018-12-31 (five years with one 29 February, 1826 days, and one more).
    """
    _, report = ingest(app, tmp_path, institution("H3", day="2015-01-01"), member("M1", day="2024-01-01"),
                       member("M2", day="2018-12-31"), member("M3", day="2018-12-30"))
    assert report.booked == 3
    [error] = report.errors
    assert "2018-12-30 is more than 1827 days before the log's present 2024-01-01" in error


def test_refusals_come_in_file_order(app, tmp_path):
    """A booking refusal (line 2) and schema refusals (lines 1 and 4) in one batch: reported 1, 2, 4."""
    setup(app, tmp_path)
    path, report = ingest(app, tmp_path, b'{"type": "member.enrolled"}\n',
                          visit("S9", "M404", "H3", "2024-03-20", item("1.00")), member("M5"),
                          b"not json\n", member("M6"))
    assert [int(e.removeprefix(f"{path}:").split(":")[0]) for e in report.errors] == [1, 2, 4]
    assert report.booked == 2
    assert report.errors[0].endswith("[missing_field]")


def test_a_double_reversal_says_already_reversed(app, tmp_path):
    setup(app, tmp_path)
    reversal = {"type": "settlement.reversed", "date": "2024-03-21", "medins_setl_id": "S1", "reason": "twice"}
    _, report = ingest(app, tmp_path, reversal)
    assert report.booked == 1
    before = head(app)
    _, again = ingest(app, tmp_path, reversal)
    assert (again.present, again.errors) == (1, [])
    _, other = ingest(app, tmp_path, {**reversal, "reason": "another reason", "date": "2024-03-22"})
    [error] = other.errors
    assert ": medins_setl_id: S1 was already reversed on 2024-03-21 [already_reversed]" in error
    assert logged(app, before) == []


def test_a_refusal_is_never_glued_to_the_progress_bar(app, tmp_path):
    """On a terminal the bar is drawn; each refusal line still starts a line of its own."""
    setup(app, tmp_path)
    path = tmp_path / "bar.jsonl"
    path.write_bytes(json.dumps(member("B1")).encode() + b"\n" + b'{"type": "member.enrolled"}\n'
                     + json.dumps(member("B2")).encode() + b"\n")
    out = io.StringIO()
    report = ingest_file(app, str(path), progress=True, errors_to=out, today=TODAY)
    [error] = report.errors
    assert "ingesting" in out.getvalue()
    assert error in re.split(r"[\r\n]", out.getvalue())
