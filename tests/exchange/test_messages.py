"""The message models are the contract of DESIGN.md §3: its examples parse, its field names are the schema's."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from ledger.exchange.messages import (
    MESSAGE_TYPES,
    BudgetSet,
    MemberEnrolled,
    MessageError,
    VisitSettled,
    json_schema,
    parse_message,
    validate_message,
)
from tests.exchange.scenario import every_type

# DESIGN.md §3's examples, verbatim.
DESIGN_EXAMPLES = r"""
{"type":"institution.registered","date":"2024-01-01","fixmedins_code":"H411500001","fixmedins_name":"信阳市中心医院","admdvs":"411500","kind":"hospital","level":3,"pooling_designated":true}
{"type":"institution.registered","date":"2024-01-01","fixmedins_code":"P411500001","fixmedins_name":"百姓大药房","admdvs":"411500","kind":"pharmacy","pooling_designated":true}
{"type":"member.enrolled","date":"2024-01-01","psn_no":"M000001","admdvs":"411500","psn_type":"11","contribution_base":"6000.00"}
{"type":"member.retired","date":"2024-05-14","psn_no":"M000001"}
{"type":"visit.settled","date":"2024-03-20","medins_setl_id":"H411500001-S000001","mdtrt_id":"H411500001-V000001","psn_no":"M000001","fixmedins_code":"H411500001","med_type":"11","acct_used_flag":false,"items":[{"feedetl_sn":"1","med_list_codg":"XJ01CAA0001","name":"阿莫西林胶囊","cnt":"2","pric":"12.50","chrgitm_lv":"01"},{"feedetl_sn":"2","med_list_codg":"XC10AAA0002","name":"阿托伐他汀钙片","cnt":"1","pric":"120.00","pric_uplmt_amt":"100.00","chrgitm_lv":"01"}]}
{"type":"prescription.issued","date":"2024-03-20","rx_no":"RX000001","mdtrt_id":"H411500001-V000001","psn_no":"M000001","fixmedins_code":"H411500001","drugs":[{"med_list_codg":"XC10AAA0002","cnt":"30","days":30}],"chronic":true}
{"type":"purchase.settled","date":"2024-03-21","medins_setl_id":"P411500001-S000001","rx_no":"RX000001","psn_no":"M000001","fixmedins_code":"P411500001","acct_used_flag":true,"items":[{"feedetl_sn":"1","med_list_codg":"XC10AAA0002","name":"阿托伐他汀钙片","cnt":"30","pric":"3.20","chrgitm_lv":"01"}],"delivery_fee":"5.00"}
{"type":"settlement.reversed","date":"2024-03-22","medins_setl_id":"H411500001-S000001","reason":"bill entered twice"}
{"type":"budget.set","date":"2024-01-01","admdvs":"410200","year":2024,"amount":"12000000.00"}
{"type":"month.closed","date":"2024-03-31","admdvs":"411500","month":"2024-03"}
{"type":"year.closed","date":"2024-12-31","admdvs":"410200","year":2024}
{"type":"account.used","date":"2024-04-02","psn_no":"M000001","amount":"100.00","beneficiary":"child","purpose":"medical","reference":"R-77"}
{"type":"member.family_doctor_signed","date":"2024-01-05","psn_no":"M000001","fixmedins_code":"H411500009"}
{"type":"member.admitted","date":"2024-04-01","psn_no":"M000001","fixmedins_code":"H411500001"}
""".strip().splitlines()

DESIGN_TYPES = ["institution.registered", "member.enrolled", "member.retired", "member.family_doctor_signed",
                "member.suspended", "member.resumed", "member.admitted", "member.discharged",
                "member.contribution_base_changed", "member.transferred_out", "member.deceased", "visit.settled",
                "prescription.issued", "purchase.settled", "account.used", "settlement.reversed", "budget.set",
                "institution.assessed", "institution.reviewed", "month.closed", "year.closed",
                "member.remote_registered", "member.remote_cancelled", "reimbursement.claimed",
                "institution.month_received", "institution.month_paid"]


def test_the_message_types_are_design_s_names():
    assert sorted(MESSAGE_TYPES) == sorted(DESIGN_TYPES)


@pytest.mark.parametrize("raw", DESIGN_EXAMPLES, ids=[json.loads(r)["type"] for r in DESIGN_EXAMPLES])
def test_design_s_examples_are_valid_messages(raw):
    msg = parse_message(raw.encode())
    assert msg.type == json.loads(raw)["type"]
    assert isinstance(msg.date, date)


def test_amounts_are_exact_decimals():
    visit = parse_message(DESIGN_EXAMPLES[4])
    assert isinstance(visit, VisitSettled)
    assert visit.items[1].pric == Decimal("120.00")
    assert visit.items[1].pric_uplmt_amt == Decimal("100.00")
    budget = parse_message(DESIGN_EXAMPLES[8])
    assert isinstance(budget, BudgetSet)
    assert budget.amount == Decimal("12000000.00")
    # A JSON number is read as an exact decimal, never through a float.
    enrolled = validate_message({**json.loads(DESIGN_EXAMPLES[2]), "contribution_base": "6000.1"})
    assert isinstance(enrolled, MemberEnrolled)
    assert enrolled.contribution_base == Decimal("6000.10")
    reparsed = parse_message(DESIGN_EXAMPLES[2].replace('"6000.00"', "6000.10"))
    assert isinstance(reparsed, MemberEnrolled)
    assert reparsed.contribution_base == Decimal("6000.10")


def test_the_same_amount_written_two_ways_is_the_same_content():
    a = validate_message({**json.loads(DESIGN_EXAMPLES[2]), "contribution_base": "6000.5"})
    b = validate_message({**json.loads(DESIGN_EXAMPLES[2]), "contribution_base": "6000.50"})
    assert a.fingerprint() == b.fingerprint()
    c = validate_message({**json.loads(DESIGN_EXAMPLES[2]), "contribution_base": "6000.51"})
    assert c.fingerprint() != a.fingerprint()
    assert c.key() == a.key()


def test_every_scenario_message_has_a_key_and_a_fingerprint():
    for raw in every_type():
        msg = validate_message(raw)
        assert msg.key()
        assert len(msg.fingerprint()) == 32


def test_the_keys_of_one_aggregate_do_not_collide():
    """Messages booked on one aggregate (a region's budget, months and year) need distinct keys."""
    budget = validate_message({"type": "budget.set", "date": "2024-01-01", "admdvs": "410200", "year": 2024,
                               "amount": "1.00"})
    year = validate_message({"type": "year.closed", "date": "2024-12-31", "admdvs": "410200", "year": 2024})
    month = validate_message({"type": "month.closed", "date": "2024-12-31", "admdvs": "410200",
                              "month": "2024-12"})
    assert len({budget.key(), year.key(), month.key()}) == 3


def test_a_message_error_names_type_field_and_reason():
    with pytest.raises(MessageError) as caught:
        parse_message(b'{"type":"member.enrolled","date":"2024-01-01","admdvs":"411500","psn_type":"11",'
                      b'"contribution_base":"6000.00"}')
    e = caught.value
    assert (e.type, e.field, e.code) == ("member.enrolled", "psn_no", "missing_field")
    assert str(e) == f"member.enrolled: psn_no: {e.reason} [missing_field]"


def test_a_nested_field_is_named_by_its_path():
    raw = json.loads(DESIGN_EXAMPLES[4])
    raw["items"][1]["cnt"] = "0"
    with pytest.raises(MessageError) as caught:
        validate_message(raw)
    assert caught.value.field == "items.1.cnt"


def test_a_line_cut_short_is_reported_where_it_ends():
    line = b'{"type": "member.enrolled", "date":\n'
    with pytest.raises(MessageError) as caught:
        # What ingest_file passes: the line as read from the file, newline included.
        parse_message(line)
    assert caught.value.reason == "not JSON: Expecting value at column 36"


def test_the_json_schema_names_every_type():
    schema = json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(MESSAGE_TYPES)
    assert len(schema["oneOf"]) == len(MESSAGE_TYPES)
    assert schema["title"] == "yibao-ledger exchange message"


@pytest.mark.parametrize(("type_", "fields"), [
    ("institution.registered", ["fixmedins_code", "admdvs", "kind", "level", "pooling_designated", "category"]),
    ("member.enrolled", ["psn_no", "admdvs", "psn_type", "contribution_base", "family_doctor_fixmedins_code"]),
    ("visit.settled", ["medins_setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "med_type", "acct_used_flag",
                       "items"]),
    ("purchase.settled", ["medins_setl_id", "rx_no", "psn_no", "fixmedins_code", "acct_used_flag", "items",
                          "delivery_fee"]),
    ("prescription.issued", ["rx_no", "mdtrt_id", "psn_no", "fixmedins_code", "drugs", "chronic", "long_term"]),
    ("account.used", ["psn_no", "amount", "beneficiary", "purpose", "reference"]),
    ("institution.reviewed", ["fixmedins_code", "year", "sampled_total", "violation_amount"]),
    ("institution.assessed", ["fixmedins_code", "year", "score"]),
    ("budget.set", ["admdvs", "year", "amount"]),
    ("month.closed", ["admdvs", "month"]),
    ("year.closed", ["admdvs", "year"]),
])
def test_the_schema_speaks_the_platform_s_field_names(type_, fields):
    schema = MESSAGE_TYPES[type_].model_json_schema()
    assert {"type", "date", *fields} <= set(schema["properties"])
    assert {"type", "date"} <= set(schema["required"])


def test_bill_lines_speak_the_platform_s_field_names():
    schema = MESSAGE_TYPES["visit.settled"].model_json_schema()
    bill_item = schema["$defs"]["BillItem"]["properties"]
    assert {"feedetl_sn", "med_list_codg", "cnt", "pric", "pric_uplmt_amt", "chrgitm_lv"} <= set(bill_item)
