"""A month close booked through the service lets other requests in between its pages of credits.

信政办〔2022〕23号 第八条: each in-service member is credited 2 % of a 6000.00 base, 120.00 a
month. The close is booked by the bureau (8501) with pages of one member; after the first page
it pauses long enough for another request, enrolling M0 on 2024-01-20 (8201), to be answered
before the close is. M0 sorts behind the pages already read, and the close's last look at the
members written meanwhile credits it: three members, 360.00.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ledger.services import closing, platform
from tests.service.conftest import XINYANG, money


@pytest.mark.parametrize("alongside", [False, True], ids=["one process", "read models alongside"])
def test_other_requests_are_answered_between_the_pages_of_a_close_xinyang_art8(service, bureau, city, monkeypatch,
                                                                                alongside):
    """With ``alongside``, the close's second process catches the read models up from its first page on,
    while the service's own follower does too (``ledger.projections.alongside``)."""
    monkeypatch.setattr(closing, "CREDIT_BATCH", 1)
    if alongside:
        monkeypatch.setattr(closing, "ALONGSIDE_FROM", 1)
    monkeypatch.setattr(platform, "PAGE_PAUSE", timedelta(seconds=1))
    answered: list[str] = []
    pages = 0
    let_others_in = platform.Platform._let_others_in

    def first_page_lets_m0_in(self, call):
        nonlocal pages
        pages += 1
        if pages == 1:
            enrol = threading.Thread(target=lambda: answered.append(bureau.ok("8201", {"data": {
                "type": "member.enrolled", "date": "2024-01-20", "psn_no": "M0", "admdvs": XINYANG,
                "psn_type": "11", "contribution_base": 6000}}, as_bureau=True)["outcome"]))
            enrol.start()
        let_others_in(self, call)

    monkeypatch.setattr(platform.Platform, "_let_others_in", first_page_lets_m0_in)

    closed = bureau.ok("8501", {"data": {"type": "month.closed", "date": "2024-01-31", "admdvs": XINYANG,
                                         "month": "2024-01"}}, as_bureau=True)

    assert answered == ["booked"]  # answered while the close was still running
    assert closed["outcome"] == "booked"
    assert pages >= 2
    for psn_no in ("M0", "M1", "M2"):
        assert money(bureau.ok("1101", {"data": {"psn_no": psn_no}}, as_bureau=True)["insuinfo"][0]["balc"]) == (
            money("120.00"))
