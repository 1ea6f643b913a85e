"""Settlements arriving together are booked in one transaction, each with its own submitter and outcome."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.service.helpers import line, register, settle_input

pytestmark = pytest.mark.usefixtures("city")


def test_concurrent_settlements_each_keep_their_figures_and_submitter_xinyang_art5(service):
    """Level 3, in service: 100.00 → deductible 50.00, fund (100 − 50) × 50 % = 25.00, for each of six visits."""
    h3 = service.caller("H3")
    visits = [(register(h3, psn_no), psn_no) for psn_no in ("M1", "M2") * 3]
    for mdtrt_id, psn_no in visits:
        h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "100.00", psn_no=psn_no)]})
    envelopes = [h3.envelope("2207", settle_input(mdtrt_id, "100.00", psn_no=psn_no)) for mdtrt_id, psn_no in visits]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(h3.send, envelopes))
    assert [a["err_msg"] for a in answers] == [None] * 6
    assert {a["output"]["setlinfo"]["hifp_pay"] for a in answers} == {"25.00"}
    ledger = service.app.state.ledger
    for envelope, answer in zip(envelopes, answers, strict=True):
        [who] = ledger.submissions(ledger.get_settlement(answer["output"]["setlinfo"]["setl_id"]))
        assert who["msgid"] == envelope["msgid"]
    # Three visits each for M1 and M2: 75.00 of the pooling fund each.
    for psn_no in ("M1", "M2"):
        out = h3.ok("5206", {"data": {"psn_no": psn_no, "cum_ym": "202403"}})["cuminfo"]
        assert {c["cum_type_code"]: c["cum"] for c in out}["hifp_pay"] == "75.00"
