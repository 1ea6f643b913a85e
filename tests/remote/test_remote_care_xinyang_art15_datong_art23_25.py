"""Remote-area care (异地就医), worked by hand from the articles.

信政办〔2022〕23号 第七条、第十五条 and 同医保办发〔2022〕1号 第二十三条: a member registered as
living elsewhere settles directly, under the insured region's benefits, at a designated
institution of the residence that offers remote direct settlement; at one that does not, the
member pays in full and claims the fund's share back no later than the following March.
第十九条（五） / 第二十五条（三）: nothing at a non-designated institution of the residence;
第二十五条（四）: nothing for ordinary outpatient costs on a temporary trip.

Xinyang (411500) members; Kaifeng (410200) is the residence: K3 level 3 and K2 level 2 are
designated, K3 offers direct settlement and K2 does not; KN is not designated.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import orjson
from click.testing import CliRunner

from ledger.entrypoints.cli import main
from ledger.errors import InputError
from ledger.projections.journal import POOLING_BANK, POOLING_EXPENSE, journal_entries
from ledger.services.application import BOOKED
from tests.audit.city import overwrite_state, positions_of, stored_state
from tests.support import book, fact, institution, item, member, pharmacy, prescription, purchase, visit

XINYANG, KAIFENG, DATONG = "411500", "410200", "140200"
D = Decimal


def remote(psn_no: str, day: str, residence: str = KAIFENG, kind: str = "resident", **extra):
    return fact("remote_registered", psn_no, day, residence_admdvs=residence, kind=kind, **extra)


def claim(claim_id: str, psn_no: str, code: str, filed: str, served: str, *items, **extra):
    return {"type": "reimbursement.claimed", "date": filed, "claim_id": claim_id, "psn_no": psn_no,
            "fixmedins_code": code, "service_date": served, "items": list(items), **extra}


def city():
    return [
        institution("H3", level=3),
        institution("K3", level=3, admdvs=KAIFENG, remote_direct_settlement=True),
        institution("K2", level=2, admdvs=KAIFENG),
        institution("KN", level=2, admdvs=KAIFENG, designated=False),
        member("M1"),
        remote("M1", "2024-02-01"),
    ]


def booked(app, *messages):
    outcomes = book(app, *messages)
    assert outcomes == [BOOKED] * len(messages), outcomes


def refused(app, message) -> InputError:
    [outcome] = book(app, message)
    assert isinstance(outcome, InputError), outcome
    return outcome


def result(app, key):
    return app.get_settlement(key).result


def test_direct_settlement_at_the_residence_under_insured_benefits_xinyang_art15_datong_art23(app):
    """400.00 category A at K3 (level 3), Xinyang's benefits: deductible 50, 50 % → fund 175.00, member 225.00."""
    booked(app, *city(), visit("S1", "M1", "K3", "2024-03-10", item("400.00")))
    r = result(app, "S1")
    assert (r["act_pay_dedc"], r["hifp_pay"], r["psn_part_amt"]) == (D("50.00"), D("175.00"), D("225.00"))
    settlement = app.get_settlement("S1")
    assert settlement.admdvs == XINYANG
    assert settlement.policy_version == app.library.policy_for(XINYANG, date(2024, 3, 10)).version
    view = app.settlement_view(settlement)
    region = view["trace"][0]
    assert region["rule"] == "region"
    assert "就医地410200" in region["text"] and "参保地411500" in region["text"]
    assert [p["article"] for p in region["params"]] == ["第七条、第十五条"]
    # The cap is the insured region's: 175.00 of Xinyang's 1500.00 is used.
    assert app.cap("M1", 2024)["used"] == D("175.00")


def test_designated_without_direct_settlement_is_not_settled_there_xinyang_art15(app):
    booked(app, *city())
    error = refused(app, visit("S1", "M1", "K2", "2024-03-10", item("200.00")))
    assert (error.code, error.field) == ("remote_no_direct_settlement", "fixmedins_code")
    assert error.article == "信政办〔2022〕23号 第七条、第十五条"


def test_reimbursement_pays_the_fund_share_to_the_member_xinyang_art15(app, store):
    """200.00 category A paid in full at K2 (level 2): deductible 30, 55 % → (200 − 30) × 55 % = 93.50."""
    booked(app, *city(), claim("C1", "M1", "K2", "2024-04-02", "2024-03-15", item("200.00")))
    out = CliRunner().invoke(main, ["--db", store.url, "settlement", "C1", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.stderr
    view = json.loads(out.stdout)
    assert (view["kind"], view["medins_setl_id"], view["date"], view["setl_date"]) == (
        "reimbursed", "C1", "2024-03-15", "2024-04-02")
    assert (view["act_pay_dedc"], view["hifp_pay"], view["psn_part_amt"], view["acct_pay"], view["psn_cash_pay"]) == (
        "30.00", "93.50", "106.50", "0.00", "106.50")
    assert "全额垫付后向参保地申请报销" in view["trace"][0]["text"]
    # Paid to the member: not in K2's monthly reconciliation, booked from the fund's bank account.
    assert app.reconcile("K2", "2024-03")["net_cnt"] == 0
    with app.engine.connect() as conn:
        rows = conn.execute(journal_entries.select().where(journal_entries.c.sub == "M1")).mappings().all()
    assert [(r["debit"], r["credit"], r["amount"]) for r in rows] == [(POOLING_EXPENSE, POOLING_BANK, 9350)]


def test_claim_filed_by_the_end_of_the_following_march_is_paid_xinyang_art15(app):
    booked(app, *city(), claim("C1", "M1", "K2", "2025-03-31", "2024-12-20", item("200.00")))
    assert result(app, "C1")["hifp_pay"] == D("93.50")


def test_claim_filed_after_the_following_march_is_refused_xinyang_art15(app):
    booked(app, *city())
    error = refused(app, claim("C1", "M1", "K2", "2025-04-01", "2024-03-15", item("200.00")))
    assert (error.code, error.field) == ("reimbursement_late", "date")
    assert error.article == "信政办〔2022〕23号 第十五条"
    assert "2025-03-31" in error.reason


def test_non_designated_institution_of_the_residence_pays_nothing_xinyang_art19_5(app):
    """At KN the member pays all 200.00, the bill settled directly or claimed back."""
    booked(app, *city(), visit("S1", "M1", "KN", "2024-03-10", item("200.00")),
           claim("C1", "M1", "KN", "2024-04-02", "2024-03-12", item("200.00")))
    for key in ("S1", "C1"):
        r = result(app, key)
        assert (r["hifp_pay"], r["psn_part_amt"], r["refusal_code"]) == (D("0.00"), D("200.00"),
                                                                          "remote_not_designated")
        assert r["refusal_article"] == "信政办〔2022〕23号 第十九条（五）"


def test_temporary_trip_pays_nothing_datong_art25_4(app):
    """A Datong member, unregistered, at a Xinyang hospital: all 200.00 self-paid (第二十五条（四）)."""
    booked(app, institution("H3", level=3), member("D1", admdvs=DATONG),
           visit("S1", "D1", "H3", "2024-03-10", item("200.00")))
    r = result(app, "S1")
    assert (r["hifp_pay"], r["psn_cash_pay"], r["refusal_code"]) == (D("0.00"), D("200.00"), "temporary_trip")
    assert r["refusal_article"] == "同医保办发〔2022〕1号 第二十五条（四）"


def test_temporary_trip_for_xinyang_borrows_datongs_article_datong_art25_4(app):
    booked(app, *city(), member("M2"), visit("S1", "M2", "K3", "2024-03-10", item("400.00")))
    r = result(app, "S1")
    assert (r["hifp_pay"], r["refusal_code"]) == (D("0.00"), "temporary_trip")
    assert r["refusal_article"] == "同医保办发〔2022〕1号 第二十五条（四）（假设）"


def test_resettled_retiree_settles_directly_at_the_residence_datong_art23(app):
    """A retired Datong member resettled in Xinyang, level 2: deductible 30, 55 % + 10 → (200 − 30) × 65 % = 110.50."""
    booked(app, institution("X2", level=2, remote_direct_settlement=True),
           member("D2", admdvs=DATONG, psn_type="12"),
           remote("D2", "2024-01-15", residence=XINYANG, kind="resettled_retiree"),
           visit("S1", "D2", "X2", "2024-03-10", item("200.00")))
    r = result(app, "S1")
    assert (r["act_pay_dedc"], r["hifp_pay"], r["psn_part_amt"]) == (D("30.00"), D("110.50"), D("89.50"))
    assert app.get_settlement("S1").policy_version == app.library.policy_for(DATONG, date(2024, 3, 10)).version
    params = app.settlement_view(app.get_settlement("S1"))["trace"][0]["params"]
    assert [(p["document"], p["article"]) for p in params] == [("同医保办发〔2022〕1号", "第二十三条")]


def test_a_registration_recorded_late_readjudicates_the_trip_xinyang_art15(app):
    """Refused as a temporary trip on 03-10; the registration from 03-01 arrives later: 175.00 is paid after all."""
    booked(app, *city(), member("M2"), visit("S1", "M2", "K3", "2024-03-10", item("400.00")))
    assert result(app, "S1")["hifp_pay"] == D("0.00")
    booked(app, remote("M2", "2024-03-01"))
    settlement = app.get_settlement("S1")
    assert (settlement.result["hifp_pay"], settlement.result["refusal_code"], settlement.adjustments) == (
        D("175.00"), None, 1)
    assert app.cap("M2", 2024)["used"] == D("175.00")


def test_after_cancelling_or_the_end_date_a_visit_there_is_a_trip_datong_art25_4(app):
    booked(app, *city(), fact("remote_cancelled", "M1", "2024-06-01"),
           visit("S1", "M1", "K3", "2024-05-31", item("400.00")),
           visit("S2", "M1", "K3", "2024-06-01", item("400.00")),
           member("M2"), remote("M2", "2024-01-01", end_date="2024-01-31"),
           visit("S3", "M2", "K3", "2024-01-31", item("400.00")),
           visit("S4", "M2", "K3", "2024-02-01", item("400.00")))
    assert [result(app, k)["hifp_pay"] for k in ("S1", "S2", "S3", "S4")] == [
        D("175.00"), D("0.00"), D("175.00"), D("0.00")]
    assert result(app, "S4")["refusal_code"] == "temporary_trip"


def test_registrations_that_cannot_be_are_refused_xinyang_art15(app):
    booked(app, *city(), member("M2"))
    cases = [
        (remote("M2", "2024-02-01", residence=XINYANG), "remote_same_region"),
        (remote("M2", "2024-02-01", kind="resettled_retiree"), "remote_not_retired"),
        (remote("M1", "2024-05-01"), "remote_already_registered"),
        (fact("remote_cancelled", "M2", "2024-05-01"), "remote_not_registered"),
    ]
    for message, code in cases:
        assert refused(app, message).code == code


def test_a_reimbursement_at_a_home_institution_is_refused_xinyang_art14(app):
    booked(app, *city())
    error = refused(app, claim("C1", "M1", "H3", "2024-04-02", "2024-03-15", item("200.00")))
    assert error.code == "reimbursement_not_remote"


def test_a_reimbursement_claim_is_idempotent_and_its_key_is_guarded(app):
    message = claim("C1", "M1", "K2", "2024-04-02", "2024-03-15", item("200.00"))
    booked(app, *city(), message)
    assert book(app, message) == ["present"]
    assert refused(app, {**message, "service_date": "2024-03-16"}).code == "key_reused"


def test_a_purchase_at_a_pharmacy_of_the_residence_settles_directly_datong_art23(app):
    """Xinyang's pharmacies settle as level 2 (第十三条): 100.00 category A, (100 − 30) × 55 % = 38.50."""
    booked(app, *city(), pharmacy("KP", admdvs=KAIFENG, remote_direct_settlement=True), pharmacy("KQ", admdvs=KAIFENG),
           prescription("RX1", "M1", "K3", "2024-03-10", "V1", [("XJ01", "2", 7)]),
           purchase("PS1", "RX1", "M1", "KP", "2024-03-11", item("50.00", cnt="2", code="XJ01")))
    assert result(app, "PS1")["hifp_pay"] == D("38.50")
    error = refused(app, purchase("PS2", "RX1", "M1", "KQ", "2024-03-11", item("50.00", cnt="2", code="XJ01")))
    assert error.code == "remote_no_direct_settlement"


def test_an_institution_registered_before_remote_settlement_existed_offers_none(app):
    """DESIGN §1 (upcasters): a version-1 ``Institution.Registered`` decodes with ``remote_direct_settlement`` false."""
    booked(app, *city())
    position = positions_of(app, "yibao:Institution.Registered")[1]  # K3, which offers it
    state = orjson.loads(stored_state(app, position))
    assert (state.pop("class_version"), state.pop("remote_direct_settlement")) == (2, True)
    overwrite_state(app, position, orjson.dumps(state))
    app.cache.clear()
    error = refused(app, visit("S1", "M1", "K3", "2024-03-10", item("400.00")))
    assert error.code == "remote_no_direct_settlement"
