"""The edges of what is accepted: the prescription's seventh day, days supplied at the limit, a close repeated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.services.ingest import ingest_file
from tests.exchange.scenario import budget, head, month_closed
from tests.support import institution, item, member, pharmacy, prescription, purchase, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import OutpatientPooling

REGION = [institution("H3", level=3), pharmacy("P1"), member("M1"), member("M2"),
          visit("S1", "M1", "H3", "2024-03-20", item("400.00", sn="1"), mdtrt="V1")]


def test_a_prescription_is_valid_seven_days_counting_the_issue_day(app: OutpatientPooling, tmp_path: Path) -> None:
    """Issued 2024-03-20: a purchase on 03-26 (day 7) is settled, on 03-27 (day 8) refused (Datong art. 10)."""
    path = write_jsonl(
        tmp_path / "rx.jsonl", *REGION,
        prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 7)]),
        purchase("PS7", "RX1", "M1", "P1", "2024-03-26", item("3.20", cnt="10", code="XC10", sn="1")),
        purchase("PS8", "RX1", "M1", "P1", "2024-03-27", item("3.20", cnt="10", code="XC10", sn="1")),
    )
    report = ingest_file(app, str(path))
    assert (report.booked, report.refused) == (len(REGION) + 2, 1)
    [error] = report.errors
    assert error.startswith(f"{path}:8: purchase.settled: rx_no: the prescription expired after 2024-03-26 "
                            "[rx_expired, ")
    assert "同医保办发〔2022〕1号 第十条" in error
    assert app.get_settlement("PS7").service_date.isoformat() == "2024-03-26"


def test_days_supplied_at_the_limit_are_accepted(app: OutpatientPooling, tmp_path: Path) -> None:
    """7 days normally, 3 in an emergency, 30 for a chronic disease, 84 on a long-term prescription."""
    path = write_jsonl(
        tmp_path / "days.jsonl", *REGION,
        prescription("RX-N", "M1", "H3", "2024-03-20", "V1", [("XC10", "7", 7)]),
        prescription("RX-E", "M1", "H3", "2024-03-20", "V1", [("XC10", "3", 3)], med_type="13"),
        prescription("RX-C", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 30)], chronic=True),
        prescription("RX-L", "M1", "H3", "2024-03-20", "V1", [("XC10", "84", 84)], chronic=True, long_term=True),
    )
    report = ingest_file(app, str(path))
    assert report.errors == []
    assert report.booked == len(REGION) + 4


def test_the_same_month_close_again_in_a_file_is_already_present(app: OutpatientPooling, tmp_path: Path) -> None:
    close = month_closed("2024-03")
    path = write_jsonl(tmp_path / "close.jsonl", budget(), *REGION, close, close)
    report = ingest_file(app, str(path))
    assert report.errors == []
    assert (report.booked, report.present, report.refused) == (len(REGION) + 2, 1, 0)

    # ... and in another file later: present again, and nothing is written.
    before = head(app)
    again = ingest_file(app, str(write_jsonl(tmp_path / "again.jsonl", close)))
    assert (again.booked, again.present, again.refused) == (0, 1, 0)
    assert head(app) == before
