"""Every message type of DESIGN.md §3, booked through ``ingest_file`` on both stores, with its effects.

One file holds a valid instance of each of the 21 types (``scenario.every_type``); it is
ingested once per store and each test reads what one type should have left: the events in
the log (topic, stream, business key) and the read models or aggregate state it changes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledger.domain.ids import institution_id, member_id, prescription_id, region_id, settlement_id, visit_id
from ledger.domain.institutions import Institution
from ledger.domain.members import Member
from ledger.domain.prescriptions import Prescription
from ledger.domain.regions import Region
from ledger.exchange.messages import MESSAGE_TYPES, validate_message
from tests.exchange.scenario import JIAOZUO, XINYANG, Logged, every_type, logged

D = Decimal


@pytest.fixture(scope="module")
def log(every_type_ledger) -> list[Logged]:
    return logged(every_type_ledger.app)


@pytest.fixture
def app(every_type_ledger):
    return every_type_ledger.app


def events(log: list[Logged], topic: str, *, originator: object = None, key: str | None = None) -> list[Logged]:
    """The events of ``topic`` (on one stream; booked from the message whose business key is ``key``).

    A handler may prefix the message's key to keep it apart from other keys on the same
    aggregate (``assessment/…``), so the receipt's key ends with the message's.
    """
    return [e for e in log if e.topic == topic and (originator is None or e.originator_id == originator)
            and (key is None or (e.key or "").endswith(key))]


def key_of(raw: dict[str, object]) -> str:
    """The business key of a message, as the message model defines it."""
    return validate_message(raw).key()


def sent(type_: str, **match: object) -> str:
    """The business key of the one message of ``type_`` in the file (with the given field values)."""
    found = [m for m in every_type() if m["type"] == type_ and all(m.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (type_, match, found)
    return key_of(found[0])


def one(log: list[Logged], topic: str, **kw: Any) -> Logged:
    found = events(log, topic, **kw)
    assert len(found) == 1, (topic, kw, found)
    return found[0]


def aggregate(app, cls, aggregate_id):
    found = app.repository.get(aggregate_id)
    assert isinstance(found, cls)
    return found


def credits(app, psn_no: str) -> dict[str, Decimal]:
    return {m["reference"]: m["amount"] for m in app.history(psn_no) if m["kind"] == "credit"}


# ------------------------------------------------------------------ the file


def test_the_file_holds_every_message_type(every_type_ledger):
    types = {m["type"] for m in every_type_ledger.messages}
    assert types == set(MESSAGE_TYPES)
    assert len(MESSAGE_TYPES) == 26


def test_every_line_is_booked(every_type_ledger):
    report = every_type_ledger.report
    assert report.errors == []
    assert (report.lines, report.booked, report.present, report.refused) == (
        len(every_type_ledger.messages), len(every_type_ledger.messages), 0, 0)
    assert report.summary() == f"{report.lines} lines: {report.lines} booked, 0 already present, 0 refused"


def test_the_read_models_have_caught_up(app):
    last = app.recorder.max_notification_id()
    assert set(app.read_models.positions().values()) == {last}


# ------------------------------------------------------------------ one test per type


def test_institution_registered(app, log):
    for code, kind, level, admdvs in (("H1", "hospital", 1, XINYANG), ("H3", "hospital", 3, XINYANG),
                                      ("P1", "pharmacy", None, XINYANG), ("J1", "hospital", 3, JIAOZUO)):
        event = one(log, "yibao:Institution.Registered", originator=institution_id(code), key=code)
        assert (event.payload["kind"], event.payload["level"], event.payload["admdvs"]) == (kind, level, admdvs)
        found = aggregate(app, Institution, institution_id(code))
        assert (found.kind, found.level, found.admdvs, found.pooling_designated) == (kind, level, admdvs, True)
    assert aggregate(app, Institution, institution_id("J1")).category == "city_level3_general"
    # An institution's claims reach its read models: H3 reconciles its March visit.
    assert app.reconcile("H3", "2024-03")["setl_cnt"] == 1


def test_member_enrolled(app, log):
    for psn_no, admdvs, psn_type in (("M1", XINYANG, "11"), ("M2", XINYANG, "11"), ("M3", XINYANG, "12"),
                                     ("J-M1", JIAOZUO, "11")):
        one(log, "yibao:Member.Enrolled", originator=member_id(psn_no), key=psn_no)
        assert app.balance(psn_no)["psn_no"] == psn_no
        found = aggregate(app, Member, member_id(psn_no))
        enrolled_on = date(2024, 8, 1) if admdvs == JIAOZUO else date(2024, 1, 1)
        assert (found.admdvs, found.enrolled_on, found.psn_types[0]) == (admdvs, enrolled_on, [enrolled_on, psn_type])
    # Enrolled members are credited each closed month: 2% of the base in service, 60.00 retired.
    assert credits(app, "M1")["2024-01"] == D("120.00")
    assert credits(app, "M2")["2024-01"] == D("100.00")
    assert credits(app, "M3")["2024-01"] == D("60.00")
    assert app.cap("M3", 2024)["psn_type"] == "12"


def test_member_family_doctor_signed(app, log):
    event = one(log, "yibao:Member.FamilyDoctorSigned", originator=member_id("M1"),
                key=sent("member.family_doctor_signed"))
    assert event.payload["fixmedins_code"] == "H1"
    m1 = aggregate(app, Member, member_id("M1"))
    assert m1.family_doctor_on(date(2024, 1, 4)) is None
    assert m1.family_doctor_on(date(2024, 1, 5)) == "H1"
    # A visit at the family doctor's institution is settled with the bonus ratio: S6 (M1 at H1) against
    # S2 (M2, no family doctor, at the same primary institution).
    s6, s2 = app.get_settlement("S6"), app.get_settlement("S2")
    assert s6.context["family_doctor_here"] is True
    assert s2.context["family_doctor_here"] is False
    assert s6.result["pool_prop_selfpay"] > s2.result["pool_prop_selfpay"]


def test_member_suspended(app, log):
    one(log, "yibao:Member.Suspended", originator=member_id("M1"), key=sent("member.suspended"))
    m1 = aggregate(app, Member, member_id("M1"))
    assert not m1.suspended_on(date(2024, 4, 9))
    assert m1.suspended_on(date(2024, 4, 10))
    # S3 (2024-04-15) falls in the suspension: settled, but the pooling fund pays nothing.
    s3 = app.settlement_view(app.get_settlement("S3"))
    assert s3["refusal"]["code"] == "suspended"
    assert s3["hifp_pay"] == D("0.00")


def test_member_resumed(app, log):
    one(log, "yibao:Member.Resumed", originator=member_id("M1"), key=sent("member.resumed"))
    m1 = aggregate(app, Member, member_id("M1"))
    assert m1.suspended_on(date(2024, 4, 19))
    assert not m1.suspended_on(date(2024, 4, 20))
    s5 = app.settlement_view(app.get_settlement("S5"))
    assert s5["refusal"] is None
    assert s5["hifp_pay"] > 0
    # Not suspended at the month's end: April is credited.
    assert "2024-04" in credits(app, "M1")


def test_member_admitted(app, log):
    event = one(log, "yibao:Member.Admitted", originator=member_id("M1"), key=sent("member.admitted"))
    assert event.payload["fixmedins_code"] == "H3"
    assert aggregate(app, Member, member_id("M1")).hospitalised_on(date(2024, 4, 26))
    s4 = app.settlement_view(app.get_settlement("S4"))
    assert s4["refusal"]["code"] == "hospitalised"
    assert s4["hifp_pay"] == D("0.00")


def test_member_discharged(app, log):
    one(log, "yibao:Member.Discharged", originator=member_id("M1"), key=sent("member.discharged"))
    m1 = aggregate(app, Member, member_id("M1"))
    assert m1.hospitalised_on(date(2024, 4, 27))
    assert not m1.hospitalised_on(date(2024, 4, 28))


def test_member_contribution_base_changed(app, log):
    event = one(log, "yibao:Member.ContributionBaseChanged", originator=member_id("M2"),
                key=sent("member.contribution_base_changed"))
    assert event.payload["contribution_base"] == D("7000.00")
    # 2% of 5000 through April, of 7000 from May (信政办〔2022〕23号 第八条).
    assert credits(app, "M2") == {"2024-01": D("100.00"), "2024-02": D("100.00"), "2024-03": D("100.00"),
                                  "2024-04": D("100.00"), "2024-05": D("140.00")}


def test_member_retired(app, log):
    event = one(log, "yibao:Member.Retired", originator=member_id("M1"), key=sent("member.retired"))
    # Benefits switch from the month after retirement (第六条、第十一条).
    assert event.payload["switch_on"] == date(2024, 6, 1)
    assert credits(app, "M1")["2024-05"] == D("120.00")
    assert credits(app, "M1")["2024-06"] == D("60.00")
    assert app.cap("M1", 2024, as_of=date(2024, 5, 31))["psn_type"] == "11"
    retired = app.cap("M1", 2024)
    assert retired["psn_type"] == "12"
    assert retired["cap"] > app.cap("M1", 2024, as_of=date(2024, 5, 31))["cap"]


def test_member_transferred_out(app, log):
    event = one(log, "yibao:Member.TransferredOut", originator=member_id("M2"), key=sent("member.transferred_out"))
    assert event.payload["paid_out"] == D("540.00")
    assert app.balance("M2")["balc"] == D("0.00")
    last = app.history("M2")[-1]
    assert (last["kind"], last["amount"], last["balc"]) == ("transfer_out", D("-540.00"), D("0.00"))
    assert "2024-06" not in credits(app, "M2")
    assert "M2" not in app.members_of(XINYANG, "2024-06-30")
    assert "M2" in app.members_of(XINYANG, "2024-05-31")


def test_member_deceased(app, log):
    event = one(log, "yibao:Member.Deceased", originator=member_id("M3"), key=sent("member.deceased"))
    assert (event.payload["heir"], event.payload["inherited"]) == ("HEIR-1", D("300.00"))
    assert app.balance("M3")["balc"] == D("0.00")
    last = app.history("M3")[-1]
    assert (last["kind"], last["amount"], last["reference"]) == ("inheritance", D("-300.00"), "HEIR-1")
    assert "2024-06" not in credits(app, "M3")
    assert "M3" not in app.members_of(XINYANG, "2024-06-30")


def test_visit_settled(app, log):
    sid = settlement_id("S1")
    one(log, "yibao:Settlement.Settled", originator=sid, key="S1")
    charged = [e for e in events(log, "yibao:Member.SettlementCharged", originator=member_id("M1"))
               if e.payload["setl_id"] == str(sid)]
    assert len(charged) == 1
    assert [e.payload["amount"] for e in events(log, "yibao:Visit.DeductibleCharged",
                                                 originator=visit_id("H3", "V1"))] == [D("50.00")]
    by_sender, by_ours = app.get_settlement("S1"), app.get_settlement(str(sid))
    assert by_sender.setl_id == by_ours.setl_id == str(sid)
    assert by_sender.medins_setl_id == by_ours.medins_setl_id == "S1"
    assert (by_sender.kind, by_sender.psn_no, by_sender.fixmedins_code, by_sender.mdtrt_id) == (
        "visit", "M1", "H3", "V1")
    assert by_sender.result["medfee_sumamt"] == D("400.00")
    assert by_sender.result["hifp_pay"] == D("175.00")
    assert charged[0].payload["hifp_pay"] == D("175.00")
    totals = app.reconcile("H3", "2024-03")
    assert (totals["setl_cnt"], totals["medfee_sumamt"], totals["fund_pay_sumamt"]) == (1, D("400.00"), D("175.00"))


def test_prescription_issued(app, log):
    one(log, "yibao:Prescription.Issued", originator=prescription_id("RX1"), key="RX1")
    rx = aggregate(app, Prescription, prescription_id("RX1"))
    assert (rx.psn_no, rx.fixmedins_code, rx.mdtrt_id) == ("M1", "H3", "V1")
    # Valid 7 days, the issue day counting as the first (同医保办发〔2022〕1号 第十条).
    assert rx.valid_through == date(2024, 3, 26)
    assert set(rx.drugs) == {"XC10AAA0002"}


def test_purchase_settled(app, log):
    sid = settlement_id("PS1")
    one(log, "yibao:Settlement.Settled", originator=sid, key="PS1")
    dispensed = events(log, "yibao:Prescription.Dispensed", originator=prescription_id("RX1"))
    assert [e.payload["setl_id"] for e in dispensed] == [str(sid)]
    s = app.get_settlement("PS1")
    assert (s.kind, s.rx_no, s.fixmedins_code) == ("purchase", "RX1", "P1")
    assert s.result["medfee_sumamt"] == D("101.00")  # 30 × 3.20 + the delivery fee 5.00
    assert s.result["acct_pay"] > 0
    # The delivery fee is never paid by the account (医保办发〔2023〕4号 三（一）).
    assert s.result["psn_cash_pay"] >= D("5.00")
    moves = [m for m in app.history("M1") if m["reference"] == str(sid)]
    assert [(m["kind"], m["amount"]) for m in moves] == [("settlement", -s.result["acct_pay"])]
    rx = aggregate(app, Prescription, prescription_id("RX1"))
    assert rx.remaining("XC10AAA0002") == 0


def test_account_used(app, log):
    event = one(log, "yibao:Member.AccountUsed", originator=member_id("M1"), key=sent("account.used"))
    assert (event.payload["amount"], event.payload["beneficiary"], event.payload["purpose"]) == (
        D("10.00"), "child", "medical")
    moves = [m for m in app.history("M1") if m["reference"] == "R-77"]
    assert [(m["kind"], m["amount"], m["date"]) for m in moves] == [("use", D("-10.00"), "2024-04-02")]


def test_settlement_reversed(app, log):
    sid = settlement_id("S2")
    one(log, "yibao:Settlement.Reversed", originator=sid, key=sent("settlement.reversed"))
    released = [e for e in events(log, "yibao:Member.SettlementReleased", originator=member_id("M2"))
                if e.payload["setl_id"] == str(sid)]
    assert len(released) == 1
    view = app.settlement_view(app.get_settlement("S2"))
    assert (view["status"], view["reversed_on"]) == ("reversed", date(2024, 3, 22))
    assert app.cap("M2", 2024)["used"] == D("0.00")
    totals = app.reconcile("H1", "2024-03")
    # H1 had S6 (kept) and S2 (reversed).
    assert (totals["setl_cnt"], totals["revs_cnt"], totals["net_cnt"]) == (2, 1, 1)


def test_budget_set(app, log):
    event = one(log, "yibao:Region.BudgetSet", originator=region_id(XINYANG), key=sent("budget.set"))
    assert (event.payload["year"], event.payload["amount"]) == (2024, D("12000000.00"))
    assert aggregate(app, Region, region_id(XINYANG)).budgets == {"2024": D("12000000.00")}
    # The budget scheme allocates the month's budget among the institutions it prepays.
    [march] = [r for r in app.prepayments("H3", 2024)["rows"] if r["month"] == "2024-03"]
    assert march["allocation"] is not None and march["allocation"] > 0


def test_institution_assessed(app, log):
    event = one(log, "yibao:Institution.Assessed", originator=institution_id("J1"), key=sent("institution.assessed"))
    assert event.payload["score"] == D("95.00")
    assert aggregate(app, Institution, institution_id("J1")).assessments == {"2024": D("95.00")}
    [row] = app.clearing(JIAOZUO, 2024)["rows"]
    assert row["score"] == "95.00"
    assert row["deposit_returned"] is not None


def test_institution_reviewed(app, log):
    event = one(log, "yibao:Institution.Reviewed", originator=institution_id("J1"), key=sent("institution.reviewed"))
    assert (event.payload["sampled_total"], event.payload["violation_amount"]) == (D("1000.00"), D("10.00"))
    assert aggregate(app, Institution, institution_id("J1")).reviews == {
        "2024": {"sampled_total": D("1000.00"), "violation_amount": D("10.00")}}
    [row] = app.clearing(JIAOZUO, 2024)["rows"]
    assert "review" in row["basis"]


def test_month_closed(app, log):
    xinyang = [e.payload["month"] for e in events(log, "yibao:Region.MonthClosed", originator=region_id(XINYANG))]
    jiaozuo = [e.payload["month"] for e in events(log, "yibao:Region.MonthClosed", originator=region_id(JIAOZUO))]
    assert xinyang == [f"2024-{m:02d}" for m in range(1, 7)]
    assert jiaozuo == [f"2024-{m:02d}" for m in range(8, 13)]
    for admdvs, months in ((XINYANG, xinyang), (JIAOZUO, jiaozuo)):
        for month in months:
            one(log, "yibao:Region.MonthClosed", originator=region_id(admdvs),
                key=sent("month.closed", admdvs=admdvs, month=month))
    # Each close credits every active member once: three in Xinyang until June, when only M1 is left.
    by_month: dict[str, int] = {}
    for e in events(log, "yibao:Member.AccountCredited"):
        by_month[e.payload["month"]] = by_month.get(e.payload["month"], 0) + 1
    assert [by_month[f"2024-{m:02d}"] for m in range(1, 7)] == [3, 3, 3, 3, 3, 1]
    assert [by_month[f"2024-{m:02d}"] for m in range(8, 13)] == [1] * 5
    # ... and prepays the institutions for what they settled: H3's March visit, J1's August visit.
    h3 = {r["month"]: r for r in app.prepayments("H3", 2024)["rows"]}
    assert sorted(h3) == ["2024-03", "2024-04"]
    assert (h3["2024-03"]["count"], h3["2024-03"]["actual"]) == (1, D("175.00"))
    assert 0 < h3["2024-03"]["paid"] + h3["2024-03"]["withheld"] <= h3["2024-03"]["actual"]
    assert h3["2024-04"]["count"] == 3  # S3, S4 (the fund paid nothing) and S5
    [j1] = app.prepayments("J1", 2024)["rows"]
    assert (j1["month"], j1["actual"], j1["allocation"]) == ("2024-08", D("175.00"), None)
    assert j1["paid"] + j1["withheld"] == j1["actual"]


def test_year_closed(app, log):
    event = one(log, "yibao:Region.YearClosed", originator=region_id(JIAOZUO), key=sent("year.closed"))
    assert event.payload["year"] == 2024
    cleared = app.clearing(JIAOZUO, 2024)
    assert cleared["scheme"] == "jiaozuo_conditional_ffs"
    [row] = cleared["rows"]
    assert row["fixmedins_code"] == "J1"
    assert row["prepaid"] == D("175.00")
    assert row["due"] == row["final_amount"] - row["prepaid"]
    assert cleared["final_amount"] == row["final_amount"]


def test_the_journal_balances(app):
    assert app.trial_balance()["balanced"]
