"""Booking messages: idempotent by business key, refusals change nothing, same on both stores."""

from __future__ import annotations

from decimal import Decimal

from ledger.domain.ids import member_id
from ledger.domain.members import Member
from ledger.domain.prescriptions import Prescription
from ledger.errors import ConflictError, UnknownError
from ledger.exchange.messages import validate_message
from ledger.services.application import BOOKED, PRESENT
from ledger.services.bootstrap import bootstrap
from tests.support import book, institution, item, member, pharmacy, prescription, purchase, visit


def test_a_visit_is_booked_once_and_a_resubmission_is_present(app):
    setup = [institution("H1", level=3), member("M1")]
    claim = visit("S1", "M1", "H1", "2024-03-20", item("400.00"))
    assert book(app, *setup, claim) == [BOOKED, BOOKED, BOOKED]
    assert book(app, claim) == [PRESENT]
    settled = app.get_settlement("S1")
    assert settled.result["hifp_pay"] == Decimal("175.00")
    assert app.cap("M1", 2024)["used"] == Decimal("175.00")


def test_the_same_key_with_other_content_is_refused_and_changes_nothing(app):
    book(app, institution("H1"), member("M1"), visit("S1", "M1", "H1", "2024-03-20", item("400.00")))
    head = app.recorder.max_notification_id()
    [outcome] = book(app, visit("S1", "M1", "H1", "2024-03-20", item("500.00")))
    assert isinstance(outcome, ConflictError)
    assert app.recorder.max_notification_id() == head


def test_an_unknown_member_is_refused(app):
    [_, outcome] = book(app, institution("H1"), visit("S1", "M404", "H1", "2024-03-20", item("10.00")))
    assert isinstance(outcome, UnknownError)
    assert outcome.field == "psn_no"


def _log_of_last_batch(app, head):
    return [(e.originator_id, e.originator_version, e.topic)
            for e in app.recorder.select_notifications(head + 1, 1000)]


def _single_loads(app, monkeypatch):
    """The kinds of the aggregates ``app`` reads one at a time from now on, in order."""
    single = []
    load = app.aggregates.load

    def load_one(cls, aggregate_id):
        single.append(cls)
        return load(cls, aggregate_id)

    monkeypatch.setattr(app.aggregates, "load", load_one)
    return single


def test_a_batch_reads_its_members_ahead_together_and_logs_what_a_batch_reading_them_one_by_one_does(
        app, tmp_path, monkeypatch):
    """A batch settling for members the cache does not hold reads them in one go, not one query each.

    The events still go to the log in the order the messages touch the aggregates, so the
    batch logs exactly what the same batch logs when each member is read as it is asked for.
    """
    setup = [institution("H1"), member("M1"), member("M2"), member("M3")]
    batch = [validate_message(visit(f"S{n}", f"M{n}", "H1", "2024-03-20", item("400.00"))) for n in (3, 1, 2)]
    one_by_one = bootstrap(str(tmp_path / "one_by_one.db"))
    try:
        monkeypatch.setattr(one_by_one.aggregates, "load_many", lambda cls, ids: None)
        book(one_by_one, *setup)
        one_by_one.cache.clear()
        head = one_by_one.recorder.max_notification_id()
        assert one_by_one.book([*batch]) == [BOOKED] * 3
        expected = _log_of_last_batch(one_by_one, head)
    finally:
        one_by_one.close()

    book(app, *setup)
    app.cache.clear()
    single = _single_loads(app, monkeypatch)
    head = app.recorder.max_notification_id()
    assert app.book([*batch]) == [BOOKED] * 3
    assert Member not in single
    assert _log_of_last_batch(app, head) == expected
    charged = [i for i, _, topic in expected if topic == "yibao:Member.SettlementCharged"]
    assert charged == [member_id("M3"), member_id("M1"), member_id("M2")]


def test_a_batch_of_purchases_reads_their_prescriptions_ahead_together(app, monkeypatch):
    """Prescriptions the cache no longer holds are read in one go for the batch, and each purchase is settled."""
    setup = [institution("H3"), pharmacy("P1"), member("M1"), member("M2"),
             visit("S1", "M1", "H3", "2024-03-20", item("50.00"), mdtrt="V1"),
             visit("S2", "M2", "H3", "2024-03-20", item("50.00"), mdtrt="V2"),
             prescription("RX1", "M1", "H3", "2024-03-20", "V1", [("XC10", "30", 7)]),
             prescription("RX2", "M2", "H3", "2024-03-20", "V2", [("XC10", "30", 7)])]
    book(app, *setup)
    app.cache.clear()
    single = _single_loads(app, monkeypatch)
    batch = [validate_message(purchase(f"PS{n}", f"RX{n}", f"M{n}", "P1", "2024-03-22",
                                       item("3.20", cnt="10", code="XC10", sn="1"))) for n in (2, 1)]
    assert app.book(batch) == [BOOKED, BOOKED]
    assert Prescription not in single
    assert app.get_settlement("PS1").result["medfee_sumamt"] == Decimal("32.00")
