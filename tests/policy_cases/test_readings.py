"""Readings where a document is soft or says something must be recorded, through the application.

- 信政办〔2022〕23号 第三条「（不含灵活就业人员）」: the enrolment says the employment category; a
  flexible worker's bill is settled with the fund paying nothing.
- 焦医保〔2024〕32号 二（二）「一般不超过7天」: a longer prescription passes with the doctor's reason
  and is flagged; the chronic month is hard; a long prescription (医保办发〔2023〕4号 四（二）) is
  for a chronic disease.
- 同医保办发〔2022〕1号 第十三条「并在医保结算系统中登记原因」: a prescription filled at a second
  institution records why, in the dispensing event.
"""

from __future__ import annotations

from decimal import Decimal

from ledger.domain.ids import prescription_id
from ledger.domain.prescriptions import Prescription
from ledger.errors import InputError
from tests.support import book, institution, item, member, pharmacy, prescription, purchase, visit

D = Decimal
JIAOZUO_DAYS = "焦医保〔2024〕32号 二（二）（假设）"  # Xinyang borrows Jiaozuo's limits (regions.yaml)


def refused(outcome, code: str, article: str | None = None) -> InputError:
    assert isinstance(outcome, InputError), outcome
    assert outcome.code == code
    if article is not None:
        assert outcome.article == article
    return outcome


def test_flexible_worker_refused_pooling_xinyang_art3(app):
    """400.00 at level 3: an employee gets (400 − 50) × 50 % = 175.00; a flexible worker 0.00, all 400.00 his."""
    book(app, institution("H1"), member("E1"), member("F1", employment_category="flexible"),
         visit("SE", "E1", "H1", "2024-03-20", item("400.00")), visit("SF", "F1", "H1", "2024-03-20", item("400.00")))
    employee, flexible = app.settlement_view(app.get_settlement("SE")), app.settlement_view(app.get_settlement("SF"))
    assert (employee["hifp_pay"], employee["refusal"]) == (D("175.00"), None)
    assert (flexible["hifp_pay"], flexible["psn_part_amt"]) == (D("0.00"), D("400.00"))
    assert flexible["refusal"] == {"code": "flexible_worker", "article": "信政办〔2022〕23号 第三条"}
    assert flexible["replay_matches"] is True


def _rx(rx_no: str, days: int, **extra):
    return prescription(rx_no, "M1", "H1", "2024-03-20", "V-S1", [("XC10", "30", days)], **extra)


def test_prescription_over_the_general_limit_with_a_reason_passes_flagged_jiaozuo_2_2(app):
    """「一般不超过7天」: 10 days with the doctor's reason is issued, and the note keeps the reason."""
    book(app, institution("H1"), member("M1"))
    [without] = book(app, _rx("RX0", 10))
    assert "over_limit_reason" in refused(without, "rx_days_over_limit", JIAOZUO_DAYS).reason
    [with_reason] = book(app, _rx("RX1", 10, over_limit_reason="travelling for two weeks, stated by the doctor"))
    assert with_reason == "booked"
    rx = app.services().uow.get(Prescription, prescription_id("RX1"))
    [note] = rx.notes
    assert note.startswith("drugs.0.days: 10 days, over the 7 generally allowed")
    assert note.endswith("travelling for two weeks, stated by the doctor")


def test_the_chronic_month_is_hard_and_a_long_prescription_is_for_a_chronic_disease_jiaozuo_2_2_national_4_2(app):
    """「慢性病一次开药量不得超过一个月」: 31 days refused even with a reason; 84 days as a long prescription
    of a chronic disease is issued (「最长可开具12周」); a long prescription not for a chronic disease is refused.
    """
    book(app, institution("H1"), member("M1"))
    [month] = book(app, _rx("RX2", 31, chronic=True, over_limit_reason="stated"))
    refused(month, "rx_days_over_limit", JIAOZUO_DAYS)
    assert book(app, _rx("RX3", 84, chronic=True, long_term=True)) == ["booked"]
    [not_chronic] = book(app, _rx("RX4", 84, long_term=True))
    refused(not_chronic, "rx_long_term_not_chronic", "医保办发〔2023〕4号 四（二）")


def test_split_dispensing_records_its_reason_datong_art13(app):
    """第十三条: drug A at P1, then drug B at P2 (the prescription split) needs a reason, kept in the event.

    Purchases at a pharmacy in Xinyang are as level 2 (第十三条 of Xinyang): 30.00 × 1 → below the
    30.00 deductible, fund 0.00 either way; the figures are not the point, the reason is.
    """
    book(app, institution("H1"), pharmacy("P1"), pharmacy("P2"), member("M1"),
         prescription("RX5", "M1", "H1", "2024-03-20", "V-S1", [("XA", "1", 5), ("XB", "1", 5)]),
         purchase("PA", "RX5", "M1", "P1", "2024-03-21", item("30.00", code="XA")))
    [silent] = book(app, purchase("PB", "RX5", "M1", "P2", "2024-03-22", item("30.00", code="XB")))
    refused(silent, "split_reason_missing", "同医保办发〔2022〕1号 第十三条（假设）")
    reason = "P1 had no XB in stock"
    assert book(app, purchase("PB", "RX5", "M1", "P2", "2024-03-22", item("30.00", code="XB"),
                              split_reason=reason)) == ["booked"]
    events = list(app.events.get(prescription_id("RX5")))
    dispensed = [e for e in events if isinstance(e, Prescription.Dispensed)]
    assert [(e.fixmedins_code, e.split_reason) for e in dispensed] == [("P1", ""), ("P2", reason)]
