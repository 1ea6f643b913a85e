"""Signatures, roles and idempotent retries over HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import insert

from ledger.adapters.service_tables import IN_FLIGHT, answers
from ledger.services import platform
from ledger.services.credentials import Credentials
from tests.service.helpers import cumulative, line, register, settle_input

pytestmark = pytest.mark.usefixtures("city")

SIGN_IN = {"signIn": {"opter_no": "OP7"}}


def refusal(response) -> str:
    assert response.status_code == 200
    body = response.json()
    assert body["infcode"] == -1 and body["output"] is None
    return body["err_msg"]


def test_a_good_signature_is_answered(service):
    h3 = service.caller("H3")
    assert h3.call("9001", SIGN_IN)["infcode"] == 0


def test_a_wrong_secret_is_refused(service):
    h3 = service.caller("H3")
    body = json.dumps(h3.envelope("9001", SIGN_IN))
    h3.secret = "not-the-secret"
    assert "[bad_signature]" in refusal(h3.post(body))


def test_a_stale_timestamp_is_refused(service):
    h3 = service.caller("H3")
    body = json.dumps(h3.envelope("9001", SIGN_IN))
    assert "[stale_timestamp]" in refusal(h3.post(body, h3.headers(now=int(time.time()) - 301)))


def test_a_replayed_nonce_is_refused(service):
    h3 = service.caller("H3")
    headers = h3.headers()
    assert h3.post(json.dumps(h3.envelope("9001", SIGN_IN)), headers).json()["infcode"] == 0
    assert "[replayed_nonce]" in refusal(h3.post(json.dumps(h3.envelope("9001", SIGN_IN)), headers))


def test_a_refused_body_spends_its_nonce_all_the_same(service):
    h3 = service.caller("H3")
    unknown = json.dumps(h3.envelope("0000", SIGN_IN))
    for refused_body, code in (("{not json", "[not_json]"), (unknown, "[unknown_infno]")):
        headers = h3.headers()
        assert code in refusal(h3.post(refused_body, headers))
        assert "[replayed_nonce]" in refusal(h3.post(json.dumps(h3.envelope("9001", SIGN_IN)), headers))


def test_unsigned_and_revoked_callers_are_refused(service):
    h3 = service.caller("H3")
    assert "[unsigned]" in refusal(h3.post(json.dumps(h3.envelope("9001", SIGN_IN)), {}))
    service.app.state.credentials.revoke("H3")
    assert "[bad_signature]" in refusal(h3.post(json.dumps(h3.envelope("9001", SIGN_IN))))


def test_a_revocation_or_a_new_secret_from_another_process_stops_the_old_secret_at_once(service):
    """The service keeps credentials it has read in memory; ``ledger credentials`` runs elsewhere."""
    h3 = service.caller("H3")
    assert h3.call("9001", SIGN_IN)["infcode"] == 0  # H3's credential is now held in memory
    elsewhere = Credentials(service.app.state.ledger.engine)
    old_secret, h3.secret = h3.secret, elsewhere.issue("H3", "institution")
    assert h3.call("9001", SIGN_IN)["infcode"] == 0
    h3.secret, new_secret = old_secret, h3.secret
    assert "[bad_signature]" in h3.refused("9001", SIGN_IN)
    h3.secret = new_secret
    elsewhere.revoke("H3")
    assert "[bad_signature]" in h3.refused("9001", SIGN_IN)


def test_check_secret_and_principal_for_the_console(service):
    credentials = service.app.state.credentials
    h3 = service.caller("H3")
    assert credentials.check_secret("H3", h3.secret).role == "institution"
    assert credentials.check_secret("H3", "wrong") is None
    assert credentials.principal("NOBODY") is None


def test_an_institution_acts_only_for_itself(service):
    h3, h2 = service.caller("H3"), service.caller("H2")
    assert "[foreign_institution]" in h3.refused("9001", SIGN_IN, fixmedins_code="H2")
    mdtrt_id = register(h3)
    # Another hospital can neither upload under H3's visit nor read H3's settlement.
    assert "[foreign_institution]" in h2.refused("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    setl_id = h3.ok("2207", settle_input(mdtrt_id, "10.00"))["setlinfo"]["setl_id"]
    assert "[foreign_institution]" in h2.refused("5203", {"data": {"setl_id": setl_id}})
    assert "[foreign_institution]" in h2.refused("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id,
                                                                  "psn_no": "M1"}})
    # An institution books no bureau facts.
    assert "[forbidden_role]" in h3.refused("8401", {"data": {"type": "budget.set", "date": "2024-01-01",
                                                               "admdvs": "411500", "year": 2024, "amount": "1.00"}})


def test_a_regulator_reads_everything_and_books_nothing(service):
    h3, regulator = service.caller("H3"), service.caller("REG1", "regulator")
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "10.00")]})
    setl_id = h3.ok("2207", settle_input(mdtrt_id, "10.00"))["setlinfo"]["setl_id"]
    seen = regulator.ok("5203", {"data": {"setl_id": setl_id}}, fixmedins_code="")
    assert seen["setlinfo"]["medfee_sumamt"] == "10.00"
    for infno, input_ in (("2201", {"data": {"psn_no": "M1", "begntime": "2024-03-20"}}),
                          ("2207", settle_input(mdtrt_id, "10.00", bchno="B9")),
                          ("8401", {"data": {"type": "budget.set", "date": "2024-01-01", "admdvs": "411500",
                                             "year": 2024, "amount": "1.00"}})):
        assert "[forbidden_role]" in regulator.refused(infno, input_, fixmedins_code="H3")


def test_the_same_msgid_gets_the_first_answer_byte_for_byte(service):
    h3 = service.caller("H3")
    envelope = h3.envelope("2201", {"data": {"psn_no": "M1", "begntime": "2024-03-20 08:00:00"}})
    first = h3.post(json.dumps(envelope)).content
    again = h3.post(json.dumps(envelope)).content
    assert first == again
    # Another body under the same msgid is refused.
    envelope["input"]["data"]["psn_no"] = "M2"
    assert "[msgid_reused]" in refusal(h3.post(json.dumps(envelope)))


def test_the_same_msgid_sent_four_times_at_once_is_answered_once_byte_for_byte(service):
    """Requests run side by side (while one waits for its booking; on PostgreSQL, several in a worker)."""
    h3 = service.caller("H3")
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "400.00")]})
    body = json.dumps(h3.envelope("2207", settle_input(mdtrt_id, "400.00")))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: h3.post(body).content, range(4)))
    assert len(set(answers)) == 1
    setl_id = json.loads(answers[0])["output"]["setlinfo"]["setl_id"]
    ledger = service.app.state.ledger
    assert len(ledger.submissions(ledger.get_settlement(setl_id))) == 1


def test_a_query_retried_under_its_msgid_gets_its_first_answer_though_the_figures_moved(service):
    """A query runs before its answer is kept; a retry gets the kept bytes, not the figures of now."""
    h3 = service.caller("H3")
    envelope = h3.envelope("5206", {"data": {"psn_no": "M1", "cum_ym": "202403"}})
    first = h3.post(json.dumps(envelope)).content
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "400.00")]})
    h3.ok("2207", settle_input(mdtrt_id, "400.00"))
    assert cumulative(h3, "202403") != {c["cum_type_code"]: c["cum"] for c in json.loads(first)["output"]["cuminfo"]}
    assert h3.post(json.dumps(envelope)).content == first
    envelope["input"]["data"]["cum_ym"] = "202404"
    assert "[msgid_reused]" in refusal(h3.post(json.dumps(envelope)))


def test_a_query_sent_four_times_at_once_is_answered_with_one_answer_byte_for_byte(service):
    h3 = service.caller("H3")
    body = json.dumps(h3.envelope("1101", {"data": {"psn_no": "M1"}}))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: h3.post(body).content, range(4)))
    assert len(set(answers)) == 1 and json.loads(answers[0])["infcode"] == 0


def test_a_msgid_whose_first_request_never_answers_is_refused_in_flight_after_the_wait(service, monkeypatch):
    """A claim left unanswered (its request still running elsewhere): a copy waits, then hears so, booking nothing."""
    monkeypatch.setattr(platform, "CLAIM_WAIT", timedelta(milliseconds=50))
    h3 = service.caller("H3")
    envelope = h3.envelope("1101", {"data": {"psn_no": "M1"}})
    with service.app.state.platform.books.begin() as conn:
        conn.execute(insert(answers).values(paasid="H3", msgid=envelope["msgid"], infno="1101",
                                            body_hash=platform.body_hash(envelope), response=IN_FLIGHT))
    assert "[msgid_in_flight]" in refusal(h3.post(json.dumps(envelope)))


def test_a_settlement_retried_under_a_new_msgid_returns_the_one_booked(service):
    h3 = service.caller("H3")
    mdtrt_id = register(h3)
    h3.ok("2204", {"feedetail": [line(mdtrt_id, "1", "400.00")]})
    first = h3.ok("2207", settle_input(mdtrt_id, "400.00"))
    retry = h3.ok("2207", settle_input(mdtrt_id, "400.00"))
    assert retry == first
    assert len(service.app.state.ledger.submissions(service.app.state.ledger.get_settlement(
        first["setlinfo"]["setl_id"]))) == 1
