"""The query commands against DESIGN.md §3: exit status, JSON shape, amounts as decimal strings.

They run on a store (SQLite and PostgreSQL) into which ``ledger ingest`` booked the file of
every message type (``tests.exchange.scenario.every_type``).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ledger.domain.ids import settlement_id
from ledger.entrypoints.cli import main
from tests.cli.conftest import as_json, error_of, make_runner

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
SETLINFO = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
            "act_pay_dedc", "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "psn_part_amt", "acct_pay",
            "psn_cash_pay", "balc")


def amount(value: object) -> Decimal:
    """A money amount as the contract prints it: a decimal string with two places."""
    assert isinstance(value, str) and AMOUNT.match(value), value
    return Decimal(value)


# ------------------------------------------------------------------ balance, history, cap


def test_balance_json(queried):
    out = as_json(queried("balance", "M1", "--json"))
    assert out["psn_no"] == "M1"
    history = as_json(queried("history", "M1", "--json"))
    assert amount(out["balc"]) == amount(history["rows"][-1]["balc"])
    assert amount(as_json(queried("balance", "M2", "--json"))["balc"]) == Decimal("0.00")


def test_balance_as_of_a_date(queried):
    # Two monthly credits of 2% × 6000 by the end of February.
    out = as_json(queried("balance", "M1", "--as-of", "2024-02-29", "--json"))
    assert amount(out["balc"]) == Decimal("240.00")
    assert out["as_of"] == "2024-02-29"


def test_balance_text(queried):
    result = queried("balance", "M1")
    balc = as_json(queried("balance", "M1", "--json"))["balc"]
    assert result.exit_code == 0
    assert result.stdout.strip() == f"M1 balance {balc}"


def test_history_json(queried):
    out = as_json(queried("history", "M1", "--json"))
    assert out["psn_no"] == "M1"
    kinds = [r["kind"] for r in out["rows"]]
    assert kinds.count("credit") == 6
    assert "use" in kinds and "settlement" in kinds
    running = Decimal("0.00")
    for row in out["rows"]:
        running += amount(row["amount"])
        assert amount(row["balc"]) == running


def test_cap_json(queried):
    out = as_json(queried("cap", "M1", "--year", "2024", "--json"))
    assert out["psn_no"] == "M1"
    assert out["year"] == 2024
    cap, used, remaining = amount(out["cap"]), amount(out["used"]), amount(out["remaining"])
    assert used > 0
    assert remaining == cap - used
    # What the pooling fund paid for M1's live settlements.
    paid = sum(amount(as_json(queried("settlement", k, "--json"))["hifp_pay"])
               for k in ("S1", "S3", "S4", "S5", "S6", "PS1", "S7", "C1"))
    assert used == paid


def test_cap_of_a_member_without_claims(queried):
    out = as_json(queried("cap", "M3", "--year", "2024", "--json"))
    assert (amount(out["used"]), out["remaining"]) == (Decimal("0.00"), out["cap"])


def test_cap_needs_a_year(queried):
    result = queried("cap", "M1", "--json")
    assert result.exit_code == 2
    assert "--year" in result.stderr


# ------------------------------------------------------------------ settlement and explain


@pytest.mark.parametrize("key", ["S1", "PS1", "S6"])
def test_settlement_json_by_either_key(queried, key):
    by_sender = as_json(queried("settlement", key, "--json"))
    by_ours = as_json(queried("settlement", str(settlement_id(key)), "--json"))
    assert by_sender == by_ours
    assert by_sender["medins_setl_id"] == key
    assert by_sender["setl_id"] == str(settlement_id(key))


@pytest.mark.parametrize("key", ["S1", "PS1", "S2", "S3"])
def test_settlement_json_has_the_setlinfo_fields_at_the_top_level(queried, key):
    out = as_json(queried("settlement", key, "--json"))
    info = {name: Decimal(out[name]) for name in SETLINFO if name != "pool_prop_selfpay"}
    for name in info:
        amount(out[name])
    assert isinstance(out["pool_prop_selfpay"], str)
    Decimal(out["pool_prop_selfpay"])
    # The identities of DESIGN.md §3.
    assert info["medfee_sumamt"] == (info["fulamt_ownpay_amt"] + info["overlmt_selfpay"] + info["preselfpay_amt"]
                                     + info["inscp_scp_amt"])
    assert info["psn_part_amt"] == info["medfee_sumamt"] - info["fund_pay_sumamt"]
    assert info["psn_part_amt"] == info["acct_pay"] + info["psn_cash_pay"]


def test_settlement_json_has_setldetail_and_the_trace(queried):
    out = as_json(queried("settlement", "S1", "--json"))
    details = {row["fund_pay_type"]: row for row in out["setldetail"]}
    assert set(details) == {"310100", "310200"}
    pooling, account = details["310100"], details["310200"]
    assert amount(pooling["fund_payamt"]) == amount(out["hifp_pay"])
    assert amount(account["fund_payamt"]) == amount(out["acct_pay"])
    # crt_payb_lmt_amt: the cap still payable after this settlement.
    cap = as_json(queried("cap", "M1", "--year", "2024", "--as-of", "2024-03-20", "--json"))
    assert amount(pooling["crt_payb_lmt_amt"]) == amount(cap["remaining"])
    assert "crt_payb_lmt_amt" in account
    assert isinstance(out["setl_proc_info"], str) and out["setl_proc_info"]
    assert out["trace"], "a settlement explains itself"
    for step in out["trace"]:
        assert {"rule", "text", "params"} <= set(step)
    cited = [p for step in out["trace"] for p in step["params"]]
    assert cited and all(p["document"] and p["article"] for p in cited)


def test_a_purchase_settlement_names_its_prescription_and_debits_the_account(queried):
    out = as_json(queried("settlement", "PS1", "--json"))
    assert (out["kind"], out["rx_no"], out["fixmedins_code"]) == ("purchase", "RX1", "P1")
    assert amount(out["acct_pay"]) > 0
    history = as_json(queried("history", "M1", "--json"))["rows"]
    [move] = [r for r in history if r["reference"] == out["setl_id"]]
    assert amount(move["amount"]) == -amount(out["acct_pay"])
    # balc: the account balance after the settlement.
    assert amount(out["balc"]) == amount(move["balc"])


def test_a_reversed_settlement_says_so(queried):
    out = as_json(queried("settlement", "S2", "--json"))
    assert (out["status"], out["reversed_on"]) == ("reversed", "2024-03-22")


def test_settlement_text(queried):
    result = queried("settlement", "S1")
    assert result.exit_code == 0
    out = as_json(queried("settlement", "S1", "--json"))
    assert result.stdout.splitlines()[0].startswith(f"S1  setl_id {out['setl_id']}")
    for name in SETLINFO:
        assert re.search(rf"^\s+{name}\s+{re.escape(out[name])}$", result.stdout, re.MULTILINE), name


@pytest.mark.parametrize("key", ["S1", "PS1"])
def test_explain_prints_each_rule_with_its_article(queried, key):
    result = queried("explain", key)
    assert result.exit_code == 0, result.stderr
    out = as_json(queried("settlement", key, "--json"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{key} ({out['setl_id']})")
    assert out["policy_version"] in lines[0]
    for i, step in enumerate(out["trace"], 1):
        assert f"{i}. {step['text']}" in lines
        for param in step["params"]:
            expected = f"{param['name']} = "
            shown = [line for line in lines if line.strip().startswith(expected) and param["article"] in line
                     and param["document"] in line and f"since {param['since']}" in line]
            assert shown, (step["text"], param)


def test_explain_by_setl_id(queried):
    by_sender = queried("explain", "S1")
    by_ours = queried("explain", str(settlement_id("S1")))
    assert by_ours.exit_code == 0
    assert by_ours.stdout == by_sender.stdout


def test_explain_a_reversed_settlement(queried):
    result = queried("explain", "S2")
    assert result.exit_code == 0
    assert "Reversed on 2024-03-22." in result.stdout


# ------------------------------------------------------------------ institutions


def test_prepayments_json(queried):
    out = as_json(queried("prepayments", "H3", "--year", "2024", "--json"))
    assert out["fixmedins_code"] == "H3"
    assert out["year"] == 2024
    assert [r["month"] for r in out["rows"]] == ["2024-03", "2024-04"]
    for row in out["rows"]:
        actual, paid, withheld = amount(row["actual"]), amount(row["paid"]), amount(row["withheld"])
        amount(row["allocation"])  # the budget scheme allocates
        assert paid + withheld <= actual


def test_prepayments_json_without_allocation(queried):
    [row] = as_json(queried("prepayments", "J1", "--year", "2024", "--json"))["rows"]
    assert row["month"] == "2024-08"
    assert row["allocation"] is None
    assert amount(row["paid"]) + amount(row["withheld"]) == amount(row["actual"])


def test_prepayments_text(queried):
    result = queried("prepayments", "H3", "--year", "2024")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split() == ["month", "actual", "allocation", "paid", "withheld", "cum.",
                                                     "paid"]
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["2024-03", "2024-04"]


def test_clearing_json(queried):
    out = as_json(queried("clearing", "410800", "2024", "--json"))
    assert (out["admdvs"], out["year"]) == ("410800", 2024)
    assert "usage_rate" in out
    [row] = out["rows"]
    assert row["fixmedins_code"] == "J1"
    final, prepaid, due = amount(row["final_amount"]), amount(row["prepaid"]), amount(row["due"])
    assert due == final - prepaid


def test_clearing_of_a_year_not_cleared(queried):
    result = queried("clearing", "411500", "2024", "--json")
    assert result.exit_code == 1
    assert error_of(result) == ("year: 2024 is not cleared for region 411500", "not_cleared")


def test_reconcile_json(queried):
    out = as_json(queried("reconcile", "H1", "--month", "2024-03", "--json"))
    assert (out["fixmedins_code"], out["month"]) == ("H1", "2024-03")
    # S6 kept, S2 reversed.
    assert (out["setl_cnt"], out["revs_cnt"], out["net_cnt"]) == (2, 1, 1)
    s6 = as_json(queried("settlement", "S6", "--json"))
    for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"):
        assert amount(out[name]) == amount(s6[name]), name


def test_reconcile_a_month_without_settlements(queried):
    out = as_json(queried("reconcile", "H3", "--month", "2024-07", "--json"))
    assert (out["setl_cnt"], out["net_cnt"], amount(out["medfee_sumamt"])) == (0, 0, Decimal("0.00"))


# ------------------------------------------------------------------ the journal


def test_journal_trial_balance(queried):
    result = queried("journal", "--trial-balance")
    assert result.exit_code == 0, result.stderr
    total = result.stdout.splitlines()[-1].split()
    assert total[0] == "total"
    assert total[1] == total[2]
    assert Decimal(total[1]) > 0


def test_journal_trial_balance_json(queried):
    out = as_json(queried("journal", "--trial-balance", "--json"))
    assert out["balanced"] is True
    assert amount(out["debit"]) == amount(out["credit"])
    assert amount(out["difference"]) == Decimal("0.00")
    assert sum(amount(a["debit"]) for a in out["accounts"]) == amount(out["debit"])
    assert sum(amount(a["credit"]) for a in out["accounts"]) == amount(out["credit"])


# ------------------------------------------------------------------ what is not there


@pytest.mark.parametrize("args", [("settlement", "NOPE", "--json"), ("settlement", "NOPE"), ("explain", "NOPE"),
                                  ("settlement", str(settlement_id("NOPE")), "--json")])
def test_an_unknown_settlement_key(queried, args):
    result = queried(*args)
    assert result.exit_code == 1
    message, code = error_of(result)
    assert message.startswith("key: unknown settlement ")
    assert code == "unknown_settlement"


@pytest.mark.parametrize("args", [("balance", "M404", "--json"), ("cap", "M404", "--year", "2024", "--json"),
                                  ("history", "M404", "--json"), ("balance", "M404")])
def test_an_unknown_member(queried, args):
    result = queried(*args)
    assert result.exit_code == 1
    assert error_of(result) == ("psn_no: unknown member M404", "unknown_member")


def test_a_bad_date(queried):
    result = queried("balance", "M1", "--as-of", "2024-02-30")
    assert result.exit_code == 2
    message, code = error_of(result)
    assert "--as-of" in message
    assert code == "bad_argument"


# ------------------------------------------------------------------ choosing the store


def test_ledger_db_names_the_store(shared_db):
    """Without ``--db`` the store comes from ``LEDGER_DB``."""
    run = make_runner(shared_db)
    with_option = as_json(run("balance", "M1", "--json"))
    from_env = as_json(run("balance", "M1", "--json", env={"LEDGER_DB": shared_db}, db_option=False))
    assert from_env == with_option


def test_db_option_wins_over_ledger_db(shared_db, tmp_path):
    run = make_runner(shared_db)
    out = run("balance", "M1", "--json", env={"LEDGER_DB": str(tmp_path / "elsewhere.db")})
    assert as_json(out)["psn_no"] == "M1"


def test_a_sqlite_url(shared_db, tmp_path):
    if "://" in shared_db:
        pytest.skip("the SQLite URL form applies to the SQLite store")
    run = make_runner(f"sqlite:///{shared_db}")
    assert as_json(run("balance", "M1", "--json")) == as_json(make_runner(shared_db)("balance", "M1", "--json"))


@pytest.mark.parametrize("url", ["mysql://somewhere/ledger", "postgresql://postgres@127.0.0.1:5432/"])
def test_an_unusable_store_url_is_one_clear_line(url):
    result = CliRunner().invoke(main, ["--db", url, "balance", "M1", "--json"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    message, code = error_of(result)
    assert message.startswith(f"{url}: ")
    assert code == "bad_database_url"
