"""The counter's whole flow over HTTP: 9001 → 2201 → 2204 → 2206 → 2207 → 5206 → 2208 → 3201.

Figures are POLICY.md's worked examples on Xinyang's parameters (信政办〔2022〕23号).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.helpers import cumulative, line, register, settle_input

pytestmark = pytest.mark.usefixtures("city")


def test_visit_flow_in_service_level3_xinyang_art5(service, bureau):
    """In service, level 3, cap unused: 400.00 → deductible 50.00, fund (400 − 50) × 50 % = 175.00, member 225.00."""
    h3 = service.caller("H3")
    assert len(h3.ok("9001", {"signIn": {"opter_no": "OP7", "mac": "00:11", "ip": "10.0.0.7"}})
               ["signinoutb"]["sign_no"]) == 32
    person = h3.ok("1101", {"data": {"psn_no": "M1"}})
    assert person["insuinfo"][0]["psn_type"] == "11" and person["insuinfo"][0]["insuplc_admdvs"] == "411500"
    mdtrt_id = register(h3)
    # A JSON number and a decimal string are both read exactly: 250 + 150.00.
    upload = h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", 250), line(mdtrt_id, "2", "50.00", "3")]})
    assert [(r["feedetl_sn"], r["det_item_fee_sumamt"], r["inscp_scp_amt"], r["fulamt_ownpay_amt"])
            for r in upload["result"]] == [("1", "250.00", "250.00", "0.00"), ("2", "150.00", "150.00", "0.00")]
    pre = h3.ok("2206", settle_input(mdtrt_id, "400.00"))["setlinfo"]
    assert (pre["act_pay_dedc"], pre["hifp_pay"], pre["psn_part_amt"]) == ("50.00", "175.00", "225.00")
    settled = h3.ok("2207", settle_input(mdtrt_id, 400))
    info = settled["setlinfo"]
    assert (info["medfee_sumamt"], info["act_pay_dedc"], info["hifp_pay"], info["fund_pay_sumamt"],
            info["psn_part_amt"], info["psn_cash_pay"]) == ("400.00", "50.00", "175.00", "175.00", "225.00", "225.00")
    assert info["mdtrt_id"] == mdtrt_id and info["setl_time"] == "2024-03-20"
    assert settled["setldetail"][0]["fund_payamt"] == "175.00"
    # 5206 answers from state that includes this settlement: 175.00 of the 1500.00 cap used.
    cum = cumulative(h3, "202403")
    assert cum == {"hifp_pay": "175.00", "act_pay_dedc": "50.00", "cap_remaining": "1325.00"}
    statement = {"insutype": "310", "clr_type": "11", "setl_optins": "411500", "stmt_begndate": "2024-03-01",
                 "stmt_enddate": "2024-03-31", "medfee_sumamt": "400.00", "fund_pay_sumamt": "175.00",
                 "acct_pay": "0.00", "fixmedins_setl_cnt": 1}
    assert h3.ok("3201", {"data": statement})["stmtinfo"]["stmt_rslt"] == "0"
    # The settlement records who submitted it, and the CLI shows it.
    shown = h3.ok("5203", {"data": {"setl_id": info["setl_id"]}})["submitted_by"]
    assert [(s["event"], s["paasid"], s["opter"]) for s in shown] == [("Settled", "H3", "OP7")]
    reversed_ = h3.ok("2208", {"data": {"setl_id": info["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": "M1"}})
    assert reversed_["setlinfo"]["status"] == "reversed"
    cum = cumulative(h3, "2024-03")
    assert cum["hifp_pay"] == "0.00"
    # After the reversal the month differs from what the hospital still counts.
    stmt = h3.ok("3201", {"data": statement})["stmtinfo"]
    assert stmt["stmt_rslt"] == "1" and "fixmedins_setl_cnt 1 ≠ 0" in stmt["stmt_rslt_dscr"]
    # The reversed lines wait again; settled anew under a new batch number.
    assert h3.ok("2207", settle_input(mdtrt_id, "400.00", bchno="B2"))["setlinfo"]["hifp_pay"] == "175.00"
    ledger = str(Path(sys.executable).parent / "ledger")
    printed = subprocess.run([ledger, "--db", service.app.state.ledger.store.url, "settlement", info["setl_id"]],
                             capture_output=True, text=True, check=True).stdout
    assert "settled by H3 (opter OP7, msgid H3" in printed and "reversed by H3" in printed


def test_pharmacy_flow_xinyang_art13(service, bureau):
    """Prescribed at level 3, bought at a pharmacy: as level 2, deductible 30.00, fund (100 − 30) × 55 % = 38.50."""
    h3, p1 = service.caller("H3"), service.caller("P1")
    visit = register(h3)
    assert h3.ok("8101", {"data": {"type": "prescription.issued", "date": "2024-03-20", "rx_no": "RX1",
                                   "mdtrt_id": visit, "psn_no": "M1", "fixmedins_code": "H3",
                                   "drugs": [{"med_list_codg": "XC01", "cnt": 10, "days": 5}]}})["outcome"] == "booked"
    purchase = register(p1)
    p1.ok("2204", {"feedetail": [line(purchase, "1", "10.00", 10, rx_no="RX1", med_type="41", med_list_codg="XC01")]})
    pre = p1.ok("2206", settle_input(purchase, "100.00", med_type="41"))["setlinfo"]
    assert (pre["act_pay_dedc"], pre["hifp_pay"]) == ("30.00", "38.50")
    info = p1.ok("2207", settle_input(purchase, "100.00", med_type="41"))["setlinfo"]
    assert (info["act_pay_dedc"], info["hifp_pay"], info["psn_part_amt"]) == ("30.00", "38.50", "61.50")
    cum = cumulative(p1, "202403")
    assert cum["hifp_pay"] == "38.50"
    p1.ok("2208", {"data": {"setl_id": info["setl_id"], "mdtrt_id": purchase, "psn_no": "M1"}})
    statement = {"stmt_begndate": "2024-03-01", "stmt_enddate": "2024-03-31", "medfee_sumamt": "0.00",
                 "fund_pay_sumamt": "0.00", "acct_pay": "0.00", "fixmedins_setl_cnt": 0}
    assert p1.ok("3201", {"data": statement})["stmtinfo"]["stmt_rslt"] == "0"
