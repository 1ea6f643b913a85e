"""Fuzzing the command's arguments (issue 20, the suite): any argument is an answer or one line, never a traceback.

Each example runs a query or a period command with drawn arguments on a ledger holding the
file of every message type; whatever it answers, the exit status is 0, 1 or 2, a failure is
one line with a refusal code, and the log is only ever changed by a close that succeeded.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.refusals import RefusalCode
from ledger.services.bootstrap import bootstrap
from tests.cli.conftest import error_of, make_runner

CODES = {c.value for c in RefusalCode}

words = (st.text(max_size=25) | st.from_regex(r"-?[0-9]{1,30}", fullmatch=True)
         | st.sampled_from(["M1", "H1", "411500", "410200", "2024", "2024-03", "2024-13", "2024-02-30",
                            "99999999999999999999999", "1800", "-1", "", "--json", "--year", "\u0000", "2024-03-20",
                            "2024-03-20T10:00:00+08:00", "S1", "../x", "/dev/null"]))

COMMANDS: list[tuple[str, ...]] = [
    ("balance", "P"), ("balance", "P", "--as-of", "W"), ("balance", "P", "--known-at", "W", "--json"),
    ("cap", "P", "--year", "W"), ("cap", "P", "--year", "W", "--as-of", "W", "--json"), ("history", "P"),
    ("settlement", "W"), ("settlement", "W", "--json"), ("explain", "W"),
    ("reconcile", "W", "--month", "W"), ("reconcile", "W", "--month", "W", "--json"),
    ("prepayments", "W", "--year", "W"), ("prepayments", "W", "--year", "W", "--known-at", "W"),
    ("clearing", "W", "W"), ("clearing", "W", "W", "--json"), ("journal", "--trial-balance", "W"),
    ("close-month", "W", "W"), ("close-month", "W", "W", "--date", "W"), ("close-year", "W", "W"),
    ("W",), ("W", "W", "W"),
]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A command with each placeholder drawn: P a member number or anything, W anything."""
    shape = draw(st.sampled_from(COMMANDS))
    members = st.sampled_from(["M1", "M2", "M404"]) | words
    return [draw(members) if part == "P" else draw(words) if part == "W" else part for part in shape]


def head(db: str) -> int:
    app = bootstrap(db)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


@pytest.fixture(scope="module")
def runner(shared_db: str) -> Any:
    return make_runner(shared_db)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_any_arguments_are_an_answer_or_one_line(runner, shared_db, argv):
    before = head(shared_db)
    result = runner(*argv)
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    if result.exit_code:
        message, code = error_of(result)
        assert code in CODES, (argv, result.stderr)
        assert message
    if argv[0] not in ("close-month", "close-year") or result.exit_code:
        assert head(shared_db) == before, argv
