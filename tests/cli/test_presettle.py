"""``ledger presettle FILE`` (2206): what settling would give, equal to what ingest then books; it books nothing."""

from __future__ import annotations

import json

from tests.cli.conftest import as_json
from tests.cli.test_ingest import log_head
from tests.exchange.scenario import budget, month_closed
from tests.support import institution, item, member, pharmacy, prescription, purchase, visit, write_jsonl

SETUP = [institution("H3", level=3), institution("H1", level=1), pharmacy("P1"), budget(), member("M1"),
         member("M2"), month_closed("2024-01"), month_closed("2024-02"),
         prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 7)])]
CLAIMS = [
    visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1"), item("120.00", sn="2", pric_uplmt_amt="100.00"),
          mdtrt="V1"),
    purchase("PS1", "RX1", "M1", "P1", "2024-03-21", item("3.20", cnt="30", code="XC10", sn="1"), acct=True,
             delivery_fee="5.00"),
    visit("S2", "M1", "H3", "2024-03-20", item("80.00", sn="1"), mdtrt="V1"),  # the same visit: no 2nd deductible
    visit("S3", "M2", "H1", "2024-03-22", item("100.00", sn="1"), acct=True),
]


def _setup(ledger, tmp_path):
    result = ledger("ingest", "--quiet", str(write_jsonl(tmp_path / "setup.jsonl", *SETUP)))
    assert result.exit_code == 0, result.stderr


def test_presettle_prints_what_ingest_then_books(ledger, db, tmp_path):
    _setup(ledger, tmp_path)
    claims = write_jsonl(tmp_path / "claims.jsonl", *CLAIMS)
    before = log_head(db)
    balances = [as_json(ledger("balance", p, "--json")) for p in ("M1", "M2")]

    presettled = as_json(ledger("presettle", str(claims)))

    # Booked nothing: not in the log, not in the read models.
    assert log_head(db) == before
    assert [as_json(ledger("balance", p, "--json")) for p in ("M1", "M2")] == balances
    assert ledger("settlement", "S1", "--json").exit_code == 1

    assert ledger("ingest", "--quiet", str(claims)).exit_code == 0
    settled = [as_json(ledger("settlement", c["medins_setl_id"], "--json")) for c in CLAIMS]
    assert presettled == settled
    assert [p["medins_setl_id"] for p in presettled] == [c["medins_setl_id"] for c in CLAIMS]
    # Later claims in the file see the earlier ones: the second bill of visit V1 pays no second deductible.
    assert presettled[2]["act_pay_dedc"] == "0.00"
    assert presettled[1]["acct_pay"] != "0.00"


def test_presettle_reports_a_refused_claim_and_exits_1(ledger, db, tmp_path):
    _setup(ledger, tmp_path)
    claims = write_jsonl(tmp_path / "claims.jsonl", CLAIMS[0],
                         visit("S9", "M404", "H3", "2024-03-20", item("10.00")),
                         purchase("PS9", "RX1", "M1", "P1", "2024-03-28", item("3.20", cnt="1", code="XC10")),
                         member("M9"))
    before = log_head(db)
    result = ledger("presettle", str(claims))
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out[0]["medins_setl_id"] == "S1"
    assert out[1] == {"error": "psn_no: unknown member M404 [unknown_member]"}
    assert out[2]["error"].startswith("rx_no: the prescription expired after 2024-03-26")
    assert out[3]["error"].startswith("type: presettle takes visit.settled and purchase.settled")
    assert log_head(db) == before


def test_presettle_refuses_a_malformed_file(ledger, db, tmp_path):
    _setup(ledger, tmp_path)
    path = tmp_path / "claims.jsonl"
    write_jsonl(path, CLAIMS[0])
    with path.open("ab") as f:
        f.write(b'{"type":"visit.settled"}\n')
    before = log_head(db)
    result = ledger("presettle", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"ledger: {path}:2: visit.settled: ")
    assert log_head(db) == before
