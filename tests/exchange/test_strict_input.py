"""Input that was accepted and should not be (issue 18, issue 20 #6 and #7): each is one refusal with its code.

Every case here passed on 5a44a6b (booked, or a traceback); each is now a ``MessageError``
that names the field and carries its refusal code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledger.exchange.messages import MessageError, decode_json, parse_message, validate_message
from tests.exchange.scenario import budget
from tests.support import institution, item, member, visit


def line(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw, ensure_ascii=False).encode()


def refused(raw: dict[str, Any] | bytes | str) -> MessageError:
    with pytest.raises(MessageError) as caught:
        parse_message(raw if isinstance(raw, bytes | str) else line(raw))
    return caught.value


def a_visit(**extra: Any) -> dict[str, Any]:
    return visit("S1", "M1", "H3", "2024-03-20", item("12.50", **extra.pop("line", {})), **extra)


@pytest.mark.parametrize(("raw", "field"), [
    (a_visit(line={"pric_uplmt_amt": "10.00", "pric_uplmt_am": "10.00"}), "items.0.pric_uplmt_am"),
    (a_visit(line={"pric_uplmt": "10.00"}), "items.0.pric_uplmt"),
    (member("M1", psn_typ="12"), "psn_typ"),
    (a_visit(acct_used="true"), "acct_used"),
])
def test_an_unknown_field_is_refused_with_its_name(raw, field):
    e = refused(raw)
    assert (e.field, e.code) == (field, "unknown_field")
    assert "unknown field" in e.reason


def test_a_misspelt_required_field_is_named_as_unknown_not_as_missing():
    raw = member("M1")
    raw["psn_n0"] = raw.pop("psn_no")
    assert (refused(raw).field, refused(raw).code) == ("psn_n0", "unknown_field")


def test_the_fields_the_platform_sends_are_carried_and_fingerprinted():
    carried = a_visit(insutype="310", mdtrt_cert_type="02", medfee_sumamt="12.50",
                      line={"det_item_fee_sumamt": "12.50", "medins_list_codg": "HOSP-0001", "spec": "0.25g*24"})
    msg = parse_message(line(carried))
    assert msg.insutype == "310"  # type: ignore[attr-defined]
    assert msg.items[0].spec == "0.25g*24"  # type: ignore[attr-defined]
    # Kept in the content, so a resubmission that changes one is a conflict, not a silent duplicate.
    other = json.loads(json.dumps(carried))
    other["insutype"] = "390"
    assert parse_message(line(other)).fingerprint() != msg.fingerprint()
    assert parse_message(line(a_visit())).fingerprint() != msg.fingerprint()


@pytest.mark.parametrize("amount", ['"1E2"', '"1e2"', '" 5.00 "', '"5.00 "', '"+5.00"', '"5."', '".5"', '"0x10"',
                                    '"Infinity"', '"NaN"', "1E2", "1.5e1", "true", '""', "[]"])
def test_an_amount_is_a_plain_decimal(amount):
    raw = line(member("M1")).replace(b'"6000.00"', amount.encode())
    e = refused(raw)
    assert (e.field, e.code) == ("contribution_base", "bad_amount"), str(e)


@pytest.mark.parametrize(("written", "value"), [("6000.50", "6000.50"), ("6000.5", "6000.50"), ("6000", "6000.00"),
                                                ("0.1", "0.10"), ("1234567890.12", "1234567890.12")])
def test_a_json_number_is_read_exactly_never_through_a_float(written, value):
    raw = line(member("M1")).replace(b'"6000.00"', written.encode())
    msg = parse_message(raw)
    assert msg.contribution_base == Decimal(value)  # type: ignore[attr-defined]
    assert str(msg.contribution_base) == value  # type: ignore[attr-defined]
    # The same content as the string form, so a resend in the other form is a duplicate.
    assert msg.fingerprint() == parse_message(line(member("M1", base=value))).fingerprint()


def test_a_number_past_float_precision_is_exact():
    raw = line(member("M1")).replace(b'"6000.00"', b"999999999999.99")
    assert parse_message(raw).contribution_base == Decimal("999999999999.99")  # type: ignore[attr-defined]


@pytest.mark.parametrize("flag", ['"yes"', '"true"', '"1"', "1", "0", "null"])
def test_a_flag_is_a_json_boolean(flag):
    raw = line(a_visit(acct=True)).replace(b'"acct_used_flag": true', b'"acct_used_flag": ' + flag.encode())
    e = refused(raw)
    assert (e.field, e.code) == ("acct_used_flag", "invalid_value")


@pytest.mark.parametrize(("field", "value"), [
    ("psn_no", "M\u0000001"), ("psn_no", "M\n1"), ("psn_no", "M 1"), ("psn_no", "M\u200b1"), ("psn_no", "张三"),
    ("psn_no", ""), ("psn_no", "M" * 65), ("admdvs", "411500\t"),
])
def test_an_identifier_follows_the_documented_character_set(field, value):
    e = refused({**member("M1"), field: value})
    assert (e.field, e.code) == (field, "bad_identifier"), str(e)


@pytest.mark.parametrize("name", ["信阳\u0000医院", "a\u0007b", "x\u001b[31m"])
def test_free_text_has_no_control_characters(name):
    e = refused(institution("H3", fixmedins_name=name))
    assert (e.field, e.code) == ("fixmedins_name", "invalid_value")
    assert "control characters" in e.reason


def test_identifiers_of_every_documented_character_pass():
    assert parse_message(line(member("H411500001-S:01/a_b.c#2"))).psn_no == "H411500001-S:01/a_b.c#2"  # type: ignore[attr-defined]


def test_a_bill_line_past_the_money_limit_is_refused():
    """cnt 100,000 × pric 10,000,000 is 10^12, past the ledger's limit 999,999,999,999.99."""
    e = refused(visit("S1", "M1", "H3", "2024-03-20", item("10000000", cnt="100000")))
    assert (e.field, e.code) == ("items.0", "amount_over_limit")
    assert "1000000000000" in e.reason


def test_bill_lines_whose_total_passes_the_money_limit_are_refused():
    lines = [item("10000000", cnt="60000", sn=str(i)) for i in range(2)]
    e = refused(visit("S1", "M1", "H3", "2024-03-20", *lines))
    assert (e.field, e.code) == ("items", "amount_over_limit")


def test_a_budget_of_zero_is_refused():
    e = refused(budget(amount="0.00"))
    assert (e.field, e.code, e.reason) == ("amount", "invalid_value", "must be greater than zero")


@pytest.mark.parametrize("day", ["1700000000", "20240320", '"2024-03-20T00:00:00"', '"2024-3-20"', "true"])
def test_a_date_is_written_yyyy_mm_dd(day):
    raw = line(member("M1")).replace(b'"2024-01-01"', day.encode())
    assert (refused(raw).field, refused(raw).code) == ("date", "invalid_value")


@pytest.mark.parametrize(("raw", "code", "reason"), [
    (b"[" * 200_000, "not_json", "nested too deep"),
    (b'{"type": "member.enrolled", "date": "2024-01-01", "psn_no": ' + b"9" * 5000 + b"}", "invalid_value",
     "5000 digits"),
    (b'{"type": "\xff"}', "not_utf8", "not UTF-8"),
    (b"[]", "not_an_object", "JSON object"),
    (b'{"date": "2024-01-01"}', "missing_type", "names its type"),
    (b'{"type": "member.promoted"}', "unknown_type", "unknown message type"),
])
def test_a_hostile_line_is_one_refusal(raw, code, reason):
    e = refused(raw)
    assert e.code == code
    assert reason in str(e)
    assert "\n" not in str(e)


def test_a_backfill_flag_is_not_part_of_the_content():
    plain = parse_message(line(member("M1")))
    marked = parse_message(line(member("M1", backfill=True)))
    assert marked.backfill and not plain.backfill
    assert marked.fingerprint() == plain.fingerprint()
    assert refused(member("M1", backfill="yes")).code == "invalid_value"


def test_a_binary_float_is_refused_even_from_python():
    """A caller that decoded JSON with floats (not ``decode_json``) gets a refusal, never a rounded amount."""
    with pytest.raises(MessageError) as caught:
        validate_message({**member("M1"), "contribution_base": 6000.1})
    assert (caught.value.field, caught.value.code) == ("contribution_base", "bad_amount")
    assert decode_json(b'{"a": 6000.1}') == {"a": Decimal("6000.1")}


def test_a_byte_order_mark_before_the_first_line_is_allowed():
    assert parse_message(b"\xef\xbb\xbf" + line(member("M1"))).psn_no == "M1"  # type: ignore[attr-defined]
