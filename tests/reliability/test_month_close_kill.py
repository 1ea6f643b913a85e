"""A month close killed between its credit batches resumes where it stopped, and other writers book between batches.

信政办〔2022〕23号 第八条 credits each in-service member 2 % of the contribution base a month:
120.00 on a base of 6000.00. The close books its credits a page of members at a time, each
page its own transaction, in member id order: a SIGKILL after the second page leaves the four
members with the lowest ids credited, and the close run again starts after the last of them,
books the other three, and leaves the log a clean run leaves, event for event, on either store.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from contextlib import contextmanager
from decimal import Decimal

import pytest

from ledger.domain.ids import member_id, region_id
from ledger.domain.regions import Region
from ledger.exchange.messages import validate_message
from ledger.services import closing
from ledger.services.bootstrap import bootstrap
from tests.payments.flows import KAIFENG, booked, budget, month
from tests.payments.test_month_close_resume import clean_log, log
from tests.support import book, institution, item, member, visit

D = Decimal
MEMBERS = 7
PAGE = 2
KILLED_AFTER = 2
"""Pages committed before the kill: the first four members in id order credited, the other three not."""
BY_ID = sorted((f"M{i}" for i in range(MEMBERS)), key=lambda psn_no: str(member_id(psn_no)))
"""The members in the order the close's pages read them."""

JANUARY = (institution("H1", level=3, admdvs=KAIFENG), *(member(f"M{i}", admdvs=KAIFENG) for i in range(MEMBERS)),
           budget(KAIFENG, 2024, "12000.00"), visit("S1", "M0", "H1", "2024-01-10", item("400.00")))
"""Seven members (credit 120.00 each), one 400.00 visit at level 3 (fund 175.00), a budget of 12 000.00."""

CLOSE_KILLED = f"""
import json, os, signal, sys
from ledger.exchange.messages import validate_message
from ledger.services import closing
from ledger.services.bootstrap import bootstrap
from ledger.services.unit_of_work import UnitOfWork

closing.CREDIT_BATCH = {PAGE}
commit, commits = UnitOfWork.commit, []

def commit_then_die(self):
    done = commit(self)
    commits.append(done)
    if len(commits) == {KILLED_AFTER}:
        os.kill(os.getpid(), signal.SIGKILL)
    return done

UnitOfWork.commit = commit_then_die
bootstrap(sys.argv[1]).close_period(validate_message(json.loads(sys.argv[2])))
"""


def test_a_close_killed_between_pages_resumes_after_the_last_credit_and_logs_what_a_clean_run_does_xinyang_art8(
        store, tmp_path, monkeypatch):
    """Clean: 7 × 120.00 = 840.00 credited; H1 prepaid 175.00 less the 5 % held back = 166.25.

    Killed (SIGKILL) after two pages of two: the first four members in id order hold 120.00,
    the other three nothing. The close run again reads its first page after the fourth and
    books the same events as the clean run.
    """
    monkeypatch.setattr(closing, "CREDIT_BATCH", PAGE)
    expected = clean_log(str(tmp_path / "clean.db"), *JANUARY, month(KAIFENG, "2024-01"))

    app = bootstrap(store)
    try:
        booked(app, *JANUARY)
    finally:
        app.close()
    killed = subprocess.run([sys.executable, "-c", CLOSE_KILLED, store.url, json.dumps(month(KAIFENG, "2024-01"))],
                            capture_output=True, text=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    resumed = bootstrap(store)
    try:
        resumed.catch_up()
        assert [resumed.balance(psn_no)["balc"] for psn_no in BY_ID] == [D("120.00")] * 4 + [D("0.00")] * 3
        pages: list[str] = []
        read_page = resumed.members_page

        def page_after(admdvs: str, on: str, after: str, limit: int) -> list[str]:
            pages.append(after)
            return read_page(admdvs, on, after, limit)

        monkeypatch.setattr(resumed, "members_page", page_after)
        booked(resumed, month(KAIFENG, "2024-01"))
        # The fifth and sixth, the seventh, then an empty page: the first four are not read again.
        assert pages == [str(member_id(BY_ID[i])) for i in (3, 5, 6)]
        [closed] = [e for e in resumed.events.get(region_id(KAIFENG)) if isinstance(e, Region.MonthClosed)]
        assert closed.credits == {"members": MEMBERS, "amount": D("840.00")}
        got = log(resumed)
    finally:
        resumed.close()
    assert got == expected


@contextmanager
def closed_with_another_writer(store, monkeypatch, *messages):
    """January closed in pages of two, with a second application booking ``messages`` after the first page.

    Yields the application and the log position after each page.
    """
    monkeypatch.setattr(closing, "CREDIT_BATCH", PAGE)
    app = bootstrap(store)
    other = bootstrap(store)
    try:
        booked(app, *JANUARY)
        pages: list[int] = []

        def let_others_in() -> None:
            pages.append(app.recorder.max_notification_id() or 0)
            if len(pages) == 1:
                book(other, *messages)

        assert app.close_period(validate_message(month(KAIFENG, "2024-01")), between_pages=let_others_in) == "booked"
        yield app, pages
    finally:
        other.close()
        app.close()


def _close_credits(app):
    [closed] = [e for e in app.events.get(region_id(KAIFENG)) if isinstance(e, Region.MonthClosed)]
    return closed.credits


def test_other_writers_book_between_the_pages_of_a_close_xinyang_art8(store, monkeypatch):
    """After the first page (M0, M1), a second application enrols M7 and settles a visit of M5.

    Both land between the first page's credits and the second's: the close holds no lock
    across pages, and ``between_pages`` is where a service holding one lets others in. M5 is
    read after its visit, so its credit is booked on top of it (120.00 credited, nothing used
    from the account); M7, enrolled on 2024-01-20, is active at the month's end and its page
    has not been read yet, so it is credited too: 8 × 120.00 = 960.00.
    """
    with closed_with_another_writer(store, monkeypatch, member("M7", admdvs=KAIFENG, day="2024-01-20"),
                                    visit("S2", "M5", "H1", "2024-01-25", item("300.00"))) as (app, pages):
        assert len(pages) == 4  # M0–M1, M2–M3, M4–M5, M6–M7
        credited = [(n.id, str(n.originator_id)) for n in app.recorder.select_notifications(1, 500)
                    if n.topic.endswith("AccountCredited")]
        enrolled_m7 = next(n.id for n in app.recorder.select_notifications(1, 500)
                           if n.originator_id == member_id("M7"))
        assert credited[1][0] <= pages[0] < enrolled_m7 < credited[2][0]
        assert _close_credits(app) == {"members": 8, "amount": D("960.00")}
        assert app.balance("M5")["balc"] == D("120.00")


def test_a_member_enrolled_behind_the_page_being_read_is_credited_by_the_last_sweep_xinyang_art8(store, monkeypatch):
    """After the first page (M0, M1), a second application enrols M00, dated 2024-01-20.

    M00 sorts between M0 and M1, behind the page the close reads next, so no page reaches it;
    the close's last look at the members written to since it began credits it: 8 × 120.00.
    """
    with closed_with_another_writer(store, monkeypatch, member("M00", admdvs=KAIFENG, day="2024-01-20")) as (app, _):
        assert _close_credits(app) == {"members": 8, "amount": D("960.00")}
        assert app.balance("M00")["balc"] == D("120.00")


@pytest.mark.parametrize("page", [1, 3, 500])
def test_a_close_books_the_same_credits_whatever_its_page_size_xinyang_art8(sqlite_app, monkeypatch, page):
    """Pages of 1, 3 or 500 members: the seven credits of 120.00 each, in member id order."""
    monkeypatch.setattr(closing, "CREDIT_BATCH", page)
    booked(sqlite_app, *JANUARY)
    booked(sqlite_app, month(KAIFENG, "2024-01"))
    credits = [e for n in sqlite_app.recorder.select_notifications(1, 500) if n.topic.endswith("AccountCredited")
               for e in [sqlite_app.mapper.to_domain_event(n)]]
    assert [(e.month, e.amount) for e in credits] == [("2024-01", D("120.00"))] * MEMBERS
    assert [sqlite_app.repository.get(e.originator_id).psn_no for e in credits] == BY_ID
