"""Properties of settling through the application (DESIGN.md §3), for random bills and members.

For any bills: pre-settling (2206) gives what settling (2207) then answers for each bill
(a later bill dated earlier may adjust it afterwards: the cap is used in date order); settling the same
``medins_setl_id`` twice books once; the fund never pays past the member's annual cap
(信政办〔2022〕23号 第五条（三）); no amount is negative; the identities hold.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.store import Store
from ledger.exchange.messages import validate_message
from ledger.services.application import BOOKED, PRESENT
from ledger.services.bootstrap import bootstrap
from tests.support import book, close_month, institution, item, member, visit

MONEY_FIELDS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "balc")

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000.00"), places=2)
lines = st.lists(st.tuples(prices, st.sampled_from(["01", "02", "03"]), st.booleans()), min_size=1, max_size=4)
bills = st.lists(st.tuples(st.sampled_from(["M1", "M2"]), st.sampled_from(["H1", "H2", "H3"]),
                           st.integers(min_value=1, max_value=28), lines, st.booleans()), min_size=1, max_size=8)


def _claim(n: int, bill: tuple) -> dict:
    psn, hospital, day, bill_lines, acct = bill
    items = [item(str(p), lv=lv, sn=str(i), **({"pric_uplmt_amt": str((p * Decimal("0.8")).quantize(Decimal("0.01")))}
                                               if standard else {}))
             for i, (p, lv, standard) in enumerate(bill_lines)]
    return visit(f"S{n}", psn, hospital, f"2024-03-{day:02d}", *items, acct=acct)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bills=bills)
def test_presettle_equals_settle_and_a_resubmission_books_once_within_the_cap(tmp_path_factory, bills):
    app = bootstrap(Store.parse(str(tmp_path_factory.mktemp("settle") / "ledger.db")))
    try:
        book(app, institution("H1", level=1), institution("H2", level=2), institution("H3", level=3),
             member("M1"), member("M2", psn_type="12"),
             {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500", "year": 2024, "amount": "100000.00"},
             close_month("411500", "2024-01", "2024-01-31"), close_month("411500", "2024-02", "2024-02-29"))
        claims = [_claim(n, bill) for n, bill in enumerate(bills)]
        head = app.recorder.max_notification_id()
        presettled = app.presettle([validate_message(c) for c in claims])
        assert app.recorder.max_notification_id() == head  # pre-settling booked nothing
        for claim, before in zip(claims, presettled, strict=True):
            assert isinstance(before, dict), before
            assert book(app, claim) == [BOOKED]
            settled = app.settlement_view(app.get_settlement(claim["medins_setl_id"]))
            assert {k: settled[k] for k in MONEY_FIELDS} == {k: before[k] for k in MONEY_FIELDS}
            assert all(settled[k] >= 0 for k in MONEY_FIELDS)
            assert settled["medfee_sumamt"] == (settled["fulamt_ownpay_amt"] + settled["overlmt_selfpay"]
                                                + settled["preselfpay_amt"] + settled["inscp_scp_amt"])
            assert settled["psn_part_amt"] == settled["medfee_sumamt"] - settled["fund_pay_sumamt"]
            assert settled["psn_part_amt"] == settled["acct_pay"] + settled["psn_cash_pay"]
        head = app.recorder.max_notification_id()
        assert book(app, *claims) == [PRESENT] * len(claims)
        assert app.recorder.max_notification_id() == head
        for claim in claims:
            settled = app.settlement_view(app.get_settlement(claim["medins_setl_id"]))
            assert all(settled[k] >= 0 for k in MONEY_FIELDS)
            assert settled["psn_part_amt"] == settled["acct_pay"] + settled["psn_cash_pay"]
        for psn in ("M1", "M2"):
            cap = app.cap(psn, 2024)
            assert Decimal("0.00") <= cap["used"] <= cap["cap"]
            assert app.balance(psn)["balc"] >= Decimal("0.00")
        assert app.trial_balance()["balanced"]
    finally:
        app.close()
