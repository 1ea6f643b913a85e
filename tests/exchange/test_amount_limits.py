"""Amounts the ledger cannot hold are refused like any other bad input; they never stop a run or the read models.

Money is yuan with two decimals in the messages and integer fen (BIGINT) in the read models,
so an amount has limits: what a Decimal of the default context can quantize, and what a
signed 64-bit count of fen holds (about 9.2e16 yuan). A line beyond them must be one
refused line, like a negative amount; it must not end the ingest, nor reach the log and
then fail every projection after it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from ledger.services.ingest import ingest_file
from tests.exchange.scenario import budget, month_closed
from tests.support import institution, item, member, visit, write_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from ledger.services.application import OutpatientPooling


@pytest.mark.parametrize("base", ['"1e30"', "1e30", '"1234567890123456789012345678.00"'])
def test_an_amount_too_large_for_a_decimal_is_one_refused_line(app: OutpatientPooling, tmp_path: Path,
                                                              base: str) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text(
        '{"type":"member.enrolled","date":"2024-01-01","psn_no":"M9","admdvs":"411500","psn_type":"11",'
        f'"contribution_base":{base}}}\n' + json.dumps(member("M1")) + "\n", encoding="utf-8")

    report = ingest_file(app, str(path))

    assert (report.booked, report.refused) == (1, 1)
    [error] = report.errors
    assert error.startswith(f"{path}:1: member.enrolled: contribution_base: ")
    assert app.balance("M1")["psn_no"] == "M1"


@pytest.mark.parametrize("huge", [
    [visit("S9", "M1", "H3", "2024-03-20", item("100000000000000000.00", sn="1"))],
    [visit("S9", "M1", "H3", "2024-03-20", item("1.00", cnt="100000000000000000000", sn="1"))],
    [member("M9", base="10000000000000000000.00"), budget(), month_closed("2024-01")],
], ids=["price", "quantity", "contribution base"])
def test_an_amount_too_large_for_the_read_models_never_stops_them(app: OutpatientPooling, tmp_path: Path,
                                                                 huge: list[dict]) -> None:
    path = write_jsonl(tmp_path / "input.jsonl", institution("H3", level=3), member("M1"), *huge, member("M2"))

    report = ingest_file(app, str(path))  # must not raise

    assert report.lines == len(huge) + 3
    # The run went on, and the read models still answer: refused at the door, or booked and projected.
    assert app.balance("M2")["psn_no"] == "M2"
    assert app.read_models.catch_up() == 0
    later = ingest_file(app, str(write_jsonl(tmp_path / "later.jsonl", member("M3"))))
    assert later.booked == 1
    assert app.balance("M3")["psn_no"] == "M3"
