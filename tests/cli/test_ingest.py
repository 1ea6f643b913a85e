"""``ledger ingest``: a summary on stdout, refused lines on stderr as FILE:LINE: type: field: reason, exit 1 if any."""

from __future__ import annotations

import re

from ledger.services.bootstrap import bootstrap
from tests.exchange.scenario import every_type
from tests.support import institution, item, member, visit, write_jsonl

SUMMARY = re.compile(r"^(\d+) lines: (\d+) booked, (\d+) already present, (\d+) refused$")


def summary(result) -> tuple[int, int, int, int]:
    match = SUMMARY.match(result.stdout.strip().splitlines()[-1])
    assert match, result.stdout
    lines, booked, present, refused = (int(g) for g in match.groups())
    return lines, booked, present, refused


def log_head(db: str) -> int:
    app = bootstrap(db)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def test_a_good_file_exits_0(ledger, db, tmp_path):
    messages = every_type()
    path = write_jsonl(tmp_path / "every-type.jsonl", *messages)
    result = ledger("ingest", "--quiet", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert summary(result) == (len(messages), len(messages), 0, 0)


def test_a_refused_line_is_reported_on_stderr_and_exits_1(ledger, tmp_path):
    path = tmp_path / "input.jsonl"
    write_jsonl(path, institution("H3"), member("M1"), visit("S1", "M404", "H3", "2024-03-20", item("10.00")),
                visit("S2", "M1", "H3", "2024-03-20", item("10.00")))
    with path.open("ab") as f:
        f.write(b'{"type": "member.enrolled", "date": \n')
        f.write(b'{"type":"member.enrolled","date":"2024-01-01","psn_no":"M2","admdvs":"411500","psn_type":"11",'
                b'"contribution_base":"-1.00"}\n')
    result = ledger("ingest", "--quiet", str(path))
    assert result.exit_code == 1
    assert summary(result) == (6, 3, 0, 3)
    errors = sorted(result.stderr.splitlines(), key=lambda e: int(e.removeprefix(f"{path}:").split(":")[0]))
    assert len(errors) == 3
    assert errors[0] == f"{path}:3: visit.settled: psn_no: unknown member M404 [unknown_member]"
    assert errors[1].startswith(f"{path}:5: -: -: not JSON: Expecting value")
    assert errors[2] == f"{path}:6: member.enrolled: contribution_base: must not be negative [invalid_value]"
    assert ledger("settlement", "S2", "--json").exit_code == 0
    assert ledger("balance", "M2").exit_code == 1


def test_ingesting_the_same_file_again_books_nothing_and_exits_0(ledger, db, tmp_path):
    messages = every_type()
    path = write_jsonl(tmp_path / "every-type.jsonl", *messages)
    assert ledger("ingest", "--quiet", str(path)).exit_code == 0
    before = log_head(db)

    again = ledger("ingest", "--quiet", str(path))

    assert again.exit_code == 0, again.stderr
    assert summary(again) == (len(messages), 0, len(messages), 0)
    assert again.stderr == ""
    assert log_head(db) == before


def test_a_file_with_refusals_again_still_exits_1_and_books_nothing(ledger, db, tmp_path):
    path = write_jsonl(tmp_path / "input.jsonl", institution("H3"),
                       visit("S1", "M404", "H3", "2024-03-20", item("10.00")))
    first = ledger("ingest", "--quiet", str(path))
    before = log_head(db)
    again = ledger("ingest", "--quiet", str(path))
    assert (first.exit_code, again.exit_code) == (1, 1)
    assert summary(again) == (2, 0, 1, 1)
    assert again.stderr == first.stderr
    assert log_head(db) == before


def test_a_batch_size(ledger, tmp_path):
    messages = every_type()
    path = write_jsonl(tmp_path / "every-type.jsonl", *messages)
    result = ledger("ingest", "--quiet", "--batch", "3", str(path))
    assert result.exit_code == 0, result.stderr
    assert summary(result) == (len(messages), len(messages), 0, 0)


def test_with_the_progress_bar(ledger, tmp_path):
    path = write_jsonl(tmp_path / "small.jsonl", institution("H3"), member("M1"))
    result = ledger("ingest", str(path))
    assert result.exit_code == 0
    assert summary(result) == (2, 2, 0, 0)


def test_blank_lines_are_not_messages(ledger, tmp_path):
    path = tmp_path / "blank.jsonl"
    write_jsonl(path, institution("H3"))
    with path.open("a") as f:
        f.write("\n   \n")
    with path.open("ab") as f:
        f.write(b'{"type":"member.enrolled","date":"2024-01-01","psn_no":"M1","admdvs":"411500","psn_type":"11",'
                b'"contribution_base":"6000.00"}\n')
    result = ledger("ingest", "--quiet", str(path))
    assert result.exit_code == 0
    assert summary(result) == (2, 2, 0, 0)


def test_a_missing_file(ledger, tmp_path):
    result = ledger("ingest", "--quiet", str(tmp_path / "nowhere.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_ledger_db_names_the_store(db, tmp_path):
    from tests.cli.conftest import make_runner

    path = write_jsonl(tmp_path / "small.jsonl", institution("H3"), member("M1"))
    run = make_runner(db)
    result = run("ingest", "--quiet", str(path), env={"LEDGER_DB": db}, db_option=False)
    assert result.exit_code == 0
    assert run("balance", "M1", "--json").exit_code == 0
