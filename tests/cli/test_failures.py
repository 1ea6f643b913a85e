"""Every failure of the command is one line on stderr with a code and a non-zero exit, never a traceback.

Issue 20 #5 (a mistyped database is not a new empty one), #6 (the tracebacks found), #8
(unknown institutions and regions), and issue 18's CLI polish (``--version``, ``--json``
errors, the URL read by SQLAlchemy). Each case failed on 5a44a6b: a traceback, exit 0, or
an empty store made where none should be.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ledger.adapters.store import Store
from ledger.adapters.writer import Writer
from ledger.entrypoints.cli import main
from ledger.services.bootstrap import bootstrap
from tests.cli.conftest import as_json, error_of, make_runner
from tests.exchange.scenario import budget
from tests.support import institution, member, write_jsonl


def one_line(result, code, status=1):
    """The failure is exactly one line with ``code``, nothing on stdout, and the exit status."""
    assert result.exit_code == status, (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    message, found = error_of(result)
    assert found == code, result.stderr
    assert "Traceback" not in result.stderr
    return message


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("ledger ")
    assert result.stdout.split()[1][0].isdigit()


def test_no_command_shows_the_help():
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 2
    assert "Commands:" in result.stderr and "init" in result.stderr


# ------------------------------------------------------------------ #5 only some commands create a store


QUERIES = [("balance", "M1"), ("history", "M1"), ("cap", "M1", "--year", "2024"), ("audit",), ("rebuild",),
           ("settlement", "S1"), ("journal", "--trial-balance"), ("close-month", "411500", "2024-01"),
           ("reconcile", "H1", "--month", "2024-01"), ("prepayments", "H1", "--year", "2024"),
           ("clearing", "411500", "2024"), ("export", "out.jsonl")]


@pytest.mark.parametrize("args", QUERIES, ids=lambda a: a[0])
def test_a_missing_database_is_refused_not_created(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "ledgr.db"
    message = one_line(make_runner(str(missing))(*args), "store_missing")
    assert message.startswith(f"no ledger at {missing}")
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", QUERIES[:4], ids=lambda a: a[0])
def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path, args):
    other = tmp_path / "someone-else.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER)")
    one_line(make_runner(str(other))(*args), "store_foreign")
    with sqlite3.connect(other) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["patients"]


def test_ingest_does_not_take_over_a_foreign_file(tmp_path):
    other = tmp_path / "someone-else.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER)")
    path = write_jsonl(tmp_path / "in.jsonl", member("M1"))
    one_line(make_runner(str(other))("ingest", "--quiet", str(path)), "store_foreign")


def test_ingest_finishes_a_ledger_stopped_while_it_made_its_tables(tmp_path):
    """A crash right after the event store made its tables leaves them alone: the next ingest goes on."""
    path = tmp_path / "ledger.db"
    bootstrap(str(path)).close()  # the event store's tables, none of the read models'
    with sqlite3.connect(path) as conn:
        assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == {
            "stored_events", "stored_snapshots"}
    messages = write_jsonl(tmp_path / "in.jsonl", member("M1"))
    result = make_runner(str(path))("ingest", "--quiet", str(messages))
    assert result.exit_code == 0, result.output
    assert make_runner(str(path))("balance", "M1").exit_code == 0


@pytest.mark.parametrize(("content", "why"), [
    (b"this is a text file, not a database " * 50, "not a database"),
    (b"SQLite format 3\x00" + b"\x10\x00\x02\x02" + b"\x00" * 200, "truncated"),
])
def test_a_file_that_is_not_a_database_is_one_line(tmp_path, content, why):
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    message = one_line(make_runner(str(bad))("balance", "M1"), "store_foreign")
    assert str(bad) in message, why


def test_a_truncated_ledger_is_one_line(tmp_path):
    db = tmp_path / "ledger.db"
    make_runner(str(db))("ingest", "--quiet", str(write_jsonl(tmp_path / "in.jsonl", member("M1"))))
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[:4096 * 3])
    result = make_runner(str(cut))("balance", "M1")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_unopenable_sqlite_path_is_one_line(tmp_path):
    one_line(make_runner(str(tmp_path))("balance", "M1"), "store_unavailable")  # a folder
    one_line(make_runner(str(tmp_path / "no" / "such" / "ledger.db"))("init"), "store_unavailable")


def test_an_unreachable_postgresql_server_is_one_line():
    result = CliRunner().invoke(main, ["--db", "postgresql://ledger@127.0.0.1:1/ledger", "balance", "M1"])
    message = one_line(result, "store_unavailable")
    assert "127.0.0.1:1" in message


def test_the_url_is_read_by_sqlalchemy():
    store = Store.parse("postgresql://ledger:p%40ss%3Aword@db.example:6543/claims")
    assert (store.user, store.password, store.host, store.port, store.dbname) == (
        "ledger", "p@ss:word", "db.example", "6543", "claims")
    assert Store.parse(store.sqlalchemy_url()).password == "p@ss:word"
    assert Store.parse("sqlite:////var/lib/ledger.db").path == "/var/lib/ledger.db"
    assert Store.parse("sqlite:///rel/ledger.db").path == "rel/ledger.db"


@pytest.mark.parametrize("url", ["postgresql://u@host:notaport/db", "sqlite://", "sqlite:///", "oracle://x/y",
                                 "postgresql://u@host/"])
def test_a_bad_url_is_one_line(url):
    one_line(CliRunner().invoke(main, ["--db", url, "balance", "M1"]), "bad_database_url")


def test_init_creates_a_ledger_that_queries_accept(tmp_path):
    run = make_runner(str(tmp_path / "new.db"))
    assert run("init").exit_code == 0
    assert run("init").exit_code == 0  # a second time: it is already a ledger
    assert as_json(run("journal", "--trial-balance", "--json"))["balanced"]
    one_line(run("balance", "M1"), "unknown_member")


# ------------------------------------------------------------------ #6 tracebacks that are now one line


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A ledger with one region's institution, member and budget."""
    folder = tmp_path_factory.mktemp("small")
    db = str(folder / "ledger.db")
    path = write_jsonl(folder / "in.jsonl", institution("H1"), member("M1"), budget())
    assert make_runner(db)("ingest", "--quiet", str(path)).exit_code == 0
    return make_runner(db)


@pytest.mark.parametrize(("args", "code", "status"), [
    (("balance", "M1", "--known-at", "99999999999999999999999"), "bad_argument", 2),
    (("balance", "M1", "--known-at", "yesterday"), "bad_argument", 2),
    (("balance", "M1", "--as-of", "2024-02-30"), "bad_argument", 2),
    (("cap", "M1", "--year", "99999"), "bad_argument", 2),
    (("cap", "M1", "--year", "1800"), "no_policy_in_force", 1),
    (("reconcile", "H1", "--month", "2025-13"), "bad_argument", 2),
    (("close-month", "411500", "2024-1"), "bad_argument", 2),
    (("close-year", "411500", "0"), "bad_argument", 2),
    (("prepayments", "H404", "--year", "2024"), "unknown_institution", 1),
    (("reconcile", "H404", "--month", "2024-03"), "unknown_institution", 1),
    (("clearing", "999999", "2024"), "unknown_region", 1),
    (("export", "no/such/folder/out.jsonl"), "file_unusable", 1),
    (("nonsense",), "bad_argument", 2),
], ids=lambda a: " ".join(a) if isinstance(a, tuple) else str(a))
def test_a_bad_argument_is_one_line(small, args, code, status):
    one_line(small(*args), code, status)


def test_a_batch_of_zero_is_refused(small, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", member("M9"))
    message = one_line(small("ingest", "--batch", "0", "--quiet", str(path)), "bad_argument", 2)
    assert "--batch" in message


def test_cap_of_a_year_a_policy_covers_answers(small):
    assert as_json(small("cap", "M1", "--year", "2024", "--json"))["cap"] == "1500.00"


def test_audit_of_a_binary_file_is_one_line(small, tmp_path):
    binary = tmp_path / "export.jsonl"
    binary.write_bytes(bytes(range(256)) * 8)
    message = one_line(small("audit", "--from", str(binary)), "file_unusable")
    assert message.startswith(f"{binary} is not a ledger export")


def test_audit_of_a_text_file_that_is_no_export_is_one_line(small, tmp_path):
    text = tmp_path / "notes.jsonl"
    text.write_text('{"hello": "world"}\n[1, 2]\n', encoding="utf-8")
    result = small("audit", "--from", str(text))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr


def test_rebuild_of_a_fresh_ledger_exits_0_without_a_broken_pipe(tmp_path):
    run = make_runner(str(tmp_path / "fresh.db"))
    assert run("init").exit_code == 0
    result = run("rebuild", "--quiet")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "rebuilt the read models from 0 events\n"


def test_a_writer_stopped_before_any_batch_ends_cleanly(tmp_path):
    """The writer's "ready" is read before "stop": its "stopped" then finds the pipe open (exit 0)."""
    writer = Writer(Store.parse(str(tmp_path / "ledger.db")))
    writer.close()
    assert writer._process.returncode == 0


def test_whatif_with_a_bad_policy_file_is_one_line(small, tmp_path):
    cases = {
        "document: [unclosed\n  parameters: {": "not YAML: line 2: expected ',' or ']', but got ':'",
        "document: {id: x}\nparameters: {}\n": "document.issuer: Field required",
        "document: {id: x, issuer: a, number: b, title: c}\nparameters: {deductible_level3: {description: x, "
        "unit: CNY, values: {2022-01-01: {value: abc, article: x}}}}\n":
            "parameters.deductible_level3: value from 2022-01-01: an amount must be a decimal, not 'abc'",
    }
    for i, (text, expected) in enumerate(cases.items()):
        bad = tmp_path / f"reform-{i}.yaml"
        bad.write_text(text, encoding="utf-8")
        message = one_line(small("whatif", "--policy", str(bad), "411500", "2024"), "bad_policy_file")
        assert message == f"{bad}: {expected}"


# ------------------------------------------------------------------ --json errors


def test_json_commands_print_errors_as_json_on_stderr(small):
    result = small("balance", "M404", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert json.loads(result.stderr) == {"error": "psn_no: unknown member M404", "code": "unknown_member"}


def test_json_errors_cover_argument_errors_too(small):
    result = small("cap", "M1", "--year", "abc", "--json")
    assert result.exit_code == 2
    out = json.loads(result.stderr)
    assert out["code"] == "bad_argument"
    assert "--year" in out["error"]


def test_json_errors_carry_the_article(small, tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", {
        "type": "visit.settled", "date": "2024-03-20", "medins_setl_id": "S1", "mdtrt_id": "V1", "psn_no": "M1",
        "fixmedins_code": "H1", "items": [{"feedetl_sn": "1", "med_list_codg": "X", "cnt": "1", "pric": "10.00",
                                           "chrgitm_lv": "01"}], "setl_date": "2024-06-20"})
    result = small("presettle", str(path))
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert "late_upload_outside_window" in row["error"]


def test_no_traceback_even_for_the_unexpected(small, monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr("ledger.services.application.OutpatientPooling.balance", boom)
    message = one_line(small("balance", "M1"), "invalid_value")
    assert message == "RuntimeError: something nobody foresaw"


def test_ledger_debug_shows_the_traceback(small, monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("LEDGER_DEBUG", "1")
    monkeypatch.setattr("ledger.services.application.OutpatientPooling.balance", boom)
    with pytest.raises(RuntimeError):
        small("balance", "M1")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
def test_progress_is_not_drawn_when_stderr_is_not_a_terminal(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", member("M1"), {"type": "member.enrolled"}, member("M2"))
    result = make_runner(str(tmp_path / "ledger.db"))("ingest", str(path))
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(f"{path}:2: member.enrolled: ")


def test_a_reader_that_goes_away_is_not_a_traceback():
    """``ledger … | head -1``: the rest of the output goes nowhere, exit 1, nothing on stderr."""
    program = ("import sys, click\nfrom ledger.entrypoints import cli\n"
               "@cli.main.command('long')\ndef long():\n    for _ in range(5_000): click.echo('x' * 80)\n"
               "sys.argv = ['ledger', 'long']\ncli.main()\n")
    shell = f"{shlex.quote(sys.executable)} -c {shlex.quote(program)} | head -1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (1, "x" * 80 + "\n", "")


@pytest.mark.parametrize("typed", ["\x85", "\u2028", "a\u2029b"])
def test_a_json_error_is_one_line_whatever_was_typed(sqlite_store, typed):
    """JSON leaves these line breaks of Unicode unescaped; the error line escapes them (found by the CLI fuzz test)."""
    run = make_runner(sqlite_store.url)
    assert run("init").exit_code == 0

    result = run("settlement", typed, "--json")

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert json.loads(result.stderr) == {"error": f"key: unknown settlement {typed}", "code": "unknown_settlement"}
