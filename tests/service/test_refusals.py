"""Bad input never gives a 500: each class gets infcode -1, one clear err_msg, and changes nothing."""

from __future__ import annotations

import json

import pytest

from ledger.entrypoints.http.app import MAX_BODY
from ledger.services.calls import Call
from ledger.services.credentials import Principal
from ledger.services.transactions import RequestEnvelope
from tests.service.helpers import line, register, settle_input

pytestmark = pytest.mark.usefixtures("city")


@pytest.fixture
def h3(service):
    return service.caller("H3")


def log_position(service) -> int:
    return service.http.get("/health").json()["log_position"]


def refused_raw(caller, body: bytes | str) -> str:
    response = caller.post(body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["infcode"] == -1 and answer["output"] is None
    return answer["err_msg"]


def test_malformed_json(h3):
    assert "[not_json]" in refused_raw(h3, b'{"infno": "9001", ')
    assert "[not_json]" in refused_raw(h3, b"[1, 2]")
    assert "[not_json]" in refused_raw(h3, b'{"infno": NaN}')
    assert "[not_json]" in refused_raw(h3, b"\xff\xfe")


def test_unknown_infno(h3):
    assert "infno: unknown transaction 9999" in h3.refused("9999", {})


def test_missing_and_mistyped_fields(h3):
    assert h3.refused("2201", {"data": {"begntime": "2024-03-20"}}).startswith("input.data.psn_no: Field required")
    assert "input.data.begntime" in h3.refused("2201", {"data": {"psn_no": "M1", "begntime": "yesterday"}})
    assert "input.data.psn_no" in h3.refused("2201", {"data": {"psn_no": 17, "begntime": "2024-03-20"}})
    missing_msgid = h3.envelope("9001", {"signIn": {}})
    del missing_msgid["msgid"]
    assert "msgid: Field required" in refused_raw(h3, json.dumps(missing_msgid))


def test_an_oversized_body_is_refused_unread(h3):
    assert "[body_too_large]" in refused_raw(h3, b" " * (MAX_BODY + 1))


def test_amounts_are_read_exactly_from_json_numbers(h3):
    """2.675 as a binary float is 2.67499…; read exactly, cnt × pric rounds half up to 2.68."""
    mdtrt_id = register(h3)
    fee = {**line(mdtrt_id, "1", "1.00"), "pric": "PRICE", "det_item_fee_sumamt": "AMOUNT"}
    body = json.dumps(h3.envelope("2204", {"feedetail": [fee]})).replace('"PRICE"', "2.675").replace('"AMOUNT"', "2.68")
    answer = h3.post(body).json()
    assert answer["infcode"] == 0, answer["err_msg"]
    assert answer["output"]["result"][0]["det_item_fee_sumamt"] == "2.68"


def test_a_line_whose_amount_is_not_cnt_times_pric(h3):
    mdtrt_id = register(h3)
    assert "[line_amount_mismatch]" in h3.refused("2204", {"feedetail": [
        line(mdtrt_id, "1", "10.00", det_item_fee_sumamt="11.00")]})


def test_medfee_sumamt_must_equal_the_uploaded_total(service, h3):
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00"), line(mdtrt_id, "2", "5.00")]})
    before = log_position(service)
    assert "[medfee_mismatch]" in h3.refused("2207", settle_input(mdtrt_id, "10.00"))
    assert log_position(service) == before


def test_a_settled_visit_settled_again(service, h3):
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    h3.ok("2207", settle_input(mdtrt_id, "10.00"))
    before = log_position(service)
    assert "[visit_settled]" in h3.refused("2207", settle_input(mdtrt_id, "10.00", bchno="B2"))
    assert "[line_reused]" in h3.refused("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    assert log_position(service) == before


def test_cancelled_lines_are_not_settled(h3):
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00"), line(mdtrt_id, "2", "5.00")]})
    assert h3.ok("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "M1", "feedetl_sn": "2"}})["cancelled"] == ["2"]
    assert h3.ok("2207", settle_input(mdtrt_id, "10.00"))["setlinfo"]["medfee_sumamt"] == "10.00"
    assert "[no_such_waiting_line]" in h3.refused("2205", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "M1",
                                                                    "feedetl_sn": "1"}})


def test_unknown_member_and_visit(h3):
    assert "[unknown_member]" in h3.refused("2201", {"data": {"psn_no": "NOBODY", "begntime": "2024-03-20"}})
    assert "[unknown_visit]" in h3.refused("2207", settle_input("NOVISIT", "10.00"))


def test_a_bill_older_than_the_window_goes_to_the_operator_jiaozuo_1_1(service, h3):
    """焦医保〔2024〕32号 一（一）: a bill may be settled at the counter within 30 days of the visit."""
    mdtrt_id = register(h3, day="2024-02-10 09:00:00")
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    assert "[late_upload_outside_window" in h3.refused("2207", settle_input(mdtrt_id, "10.00"))
    service.today[0] = service.today[0].replace(day=11)  # 2024-03-11: 30 days after 2024-02-10
    assert h3.ok("2207", settle_input(mdtrt_id, "10.00"))["setlinfo"]["setl_time"] == "2024-03-11"


def test_lines_reserved_by_one_bill_are_not_taken_by_another(service, h3):
    """A bill reserves its lines before booking: another bill of the visit (another request, another
    worker) cannot take them, and the same bill retried after a crash between the two finds them."""
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    platform = service.app.state.platform
    call = Call(Principal("H3", "institution"), RequestEnvelope.model_validate(h3.envelope("2207", {})),
                platform.books, platform.writing)
    platform.counter._reserve(call, mdtrt_id, ["1"], f"{mdtrt_id}-B1")
    call.release()
    assert "[visit_settled]" in h3.refused("2207", settle_input(mdtrt_id, "10.00", bchno="B2"))
    assert h3.ok("2207", settle_input(mdtrt_id, "10.00", bchno="B1"))["setlinfo"]["medfee_sumamt"] == "10.00"
