"""``ledger rebuild``: the read models from the event log alone; every query answers as before."""

from __future__ import annotations

import re

from tests.cli.conftest import as_json
from tests.exchange.scenario import every_type
from tests.support import write_jsonl

QUERIES = [
    ("balance", "M1", "--json"),
    ("balance", "M1", "--as-of", "2024-03-31", "--json"),
    ("history", "M1", "--json"),
    ("cap", "M1", "--year", "2024", "--json"),
    ("cap", "M2", "--year", "2024", "--json"),
    ("settlement", "S1", "--json"),
    ("settlement", "PS1", "--json"),
    ("settlement", "S2", "--json"),
    ("prepayments", "H3", "--year", "2024", "--json"),
    ("prepayments", "J1", "--year", "2024", "--json"),
    ("clearing", "410800", "2024", "--json"),
    ("reconcile", "H1", "--month", "2024-03", "--json"),
    ("journal", "--trial-balance", "--json"),
]


def test_rebuild_then_the_same_answers(ledger, tmp_path):
    path = write_jsonl(tmp_path / "every-type.jsonl", *every_type())
    assert ledger("ingest", "--quiet", str(path)).exit_code == 0
    before = [as_json(ledger(*q)) for q in QUERIES]

    result = ledger("rebuild", "--quiet")

    assert result.exit_code == 0, result.stderr
    match = re.fullmatch(r"rebuilt the read models from (\d+) events\n", result.stdout)
    assert match and int(match.group(1)) > 0
    assert [as_json(ledger(*q)) for q in QUERIES] == before
    # Twice is the same as once.
    assert ledger("rebuild").exit_code == 0
    assert [as_json(ledger(*q)) for q in QUERIES] == before
