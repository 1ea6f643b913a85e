"""Properties of random histories: projections, balances, caps and the journal stay consistent.

Hypothesis draws a few members (in service or retired, various bases, enrolled in January to
March) and months of facts in date order: visits at every level with random amounts, item
classes and consent to use the account; pharmacy purchases with a delivery fee; account uses
permitted or not (arts. 9, 10); retirements (arts. 6, 11); base changes (art. 8);
suspensions; transfers out and deaths (art. 12); reversals (2208); and month closes in
order (art. 8). About one fact in five arrives after its month was closed, so credits and
settlements already booked are corrected (DESIGN.md §1). Whatever was accepted or refused,
afterwards:

- rebuilding the read models from the log gives exactly what incremental processing gave;
- the balance in ``accounts_balances`` is the member aggregate's balance, and never negative
  (nor is any running balance in the history);
- the pooling paid in the year never exceeds the annual cap in force (art. 5(三)), at the end
  of any month;
- the journal's debits equal its credits (Datong art. 27);
- each member's standing in its read model is the member's own, and the audit re-derives
  every credit and correction: the even months are closed with nothing cached, as after a
  restart, so their credits are booked from the members' standing.

Each example gets an empty database, so the test builds its application itself.
"""

from __future__ import annotations

import calendar
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from ledger.adapters.store import Store
from ledger.domain.ids import member_id
from ledger.errors import LedgerError, UnknownError
from ledger.exchange.messages import Message, MonthClosed, PurchaseSettled, VisitSettled, validate_message
from ledger.projections.accounts import accounts_balances
from ledger.projections.base import yuan
from ledger.projections.standing import standings
from ledger.services.application import BOOKED, PRESENT, Outcome, OutpatientPooling
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from tests.accounts.helpers import (
    aggregate,
    base_changed,
    deceased,
    dump_read_models,
    month_closed,
    resumed,
    retired,
    reversed_,
    suspended,
    transferred_out,
    use,
    xinyang_region,
)
from tests.support import item, member, prescription, purchase, visit

if TYPE_CHECKING:
    from collections.abc import Iterator

MONTHS = [f"2024-{m:02d}" for m in range(1, 7)]
BENEFICIARIES = ["self", "spouse", "parent", "child", "other"]
PURPOSES = [
    "medical",
    "pharmacy",
    "resident_contribution",
    "supplementary_insurance",
    "fitness",
    "wellness",
    "public_health",
]


def _money(low: int, high: int) -> st.SearchStrategy[str]:
    """An amount in yuan with two decimals, drawn in fen."""
    return st.integers(low, high).map(lambda fen: f"{Decimal(fen) / 100:.2f}")


PERMITTED = [
    ("self", "medical"),
    ("self", "pharmacy"),
    ("self", "supplementary_insurance"),
    ("spouse", "resident_contribution"),
    ("parent", "medical"),
    ("child", "pharmacy"),
]

people = st.integers(0, 2)
days = st.integers(1, 28)
claims = st.one_of(
    st.tuples(
        st.just("visit"),
        people,
        days,
        st.sampled_from(["H1", "H2", "H3"]),
        _money(1, 300_000),
        st.sampled_from(["01", "01", "02", "03"]),
        st.booleans(),
    ),
    st.tuples(
        st.just("purchase"),
        people,
        days,
        _money(1, 5_000),
        st.integers(1, 30),
        st.sampled_from(["0.00", "5.00"]),
        st.booleans(),
    ),
)
uses = st.tuples(
    st.just("use"),
    people,
    days,
    _money(1, 30_000),
    # Mostly permitted uses (art. 9), sometimes anything at all (arts. 9, 10 refuse most of those).
    st.one_of(
        st.sampled_from(PERMITTED),
        st.tuples(st.sampled_from(BENEFICIARIES), st.sampled_from(PURPOSES)),
    ),
)
facts = st.one_of(
    st.tuples(st.just("retire"), people, days),
    st.tuples(st.just("base"), people, days, _money(100_000, 3_000_000)),
    st.tuples(st.just("suspend"), people, days),
    st.tuples(st.just("resume"), people, days),
    st.tuples(st.just("reverse"), st.integers(0, 50), days),
    st.tuples(st.just("leave"), people, days, st.booleans()),
)


def _messages(op: tuple, serial: int, who: str, day: str, settlements: list[str]) -> list[dict]:
    """The exchange messages of one drawn operation (a purchase needs its prescription first)."""
    kind = op[0]
    if kind == "visit":
        _, _, _, hospital, pric, lv, acct = op
        settlements.append(f"S{serial}")
        return [visit(f"S{serial}", who, hospital, day, item(pric, lv=lv), acct=acct)]
    if kind == "purchase":
        _, _, _, pric, cnt, fee, acct = op
        settlements.append(f"S{serial}")
        drugs = [("XC10", str(cnt), 7)]
        return [
            prescription(f"RX{serial}", who, "H2", day, f"V-RX{serial}", drugs),
            purchase(f"S{serial}", f"RX{serial}", who, "P1", day,
                     item(pric, cnt=str(cnt), code="XC10"), acct=acct, delivery_fee=fee),
        ]  # fmt: skip
    if kind == "use":
        _, _, _, amount, (beneficiary, purpose) = op
        return [use(who, amount, beneficiary, purpose, ref=f"R{serial}", day=day)]
    if kind == "reverse":
        return [reversed_(settlements[op[1] % len(settlements)], day)] if settlements else []
    if kind == "leave":
        return [transferred_out(who, day) if op[3] else deceased(who, day)]
    if kind == "base":
        return [base_changed(who, day, op[3])]
    builder = {"retire": retired, "suspend": suspended, "resume": resumed}[kind]
    return [builder(who, day)]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    """(members, messages in booking order) for a region over up to six months.

    Facts come in date order, except that about one in five arrives late: after its month
    was closed, so the ledger must correct credits and settlements already booked.
    """
    count = draw(st.integers(1, 3))
    members = [
        member(
            f"P{i}",
            psn_type=draw(st.sampled_from(["11", "11", "12"])),
            base=draw(_money(100_000, 3_000_000)),
            day=f"2024-{draw(st.sampled_from([1, 1, 2, 3])):02d}-01",
        )
        for i in range(count)
    ]
    span = draw(st.integers(1, len(MONTHS)))
    closed = draw(st.integers(0, span))
    messages: list[dict] = [*xinyang_region(), *members]
    settlements: list[str] = []
    serial = 0
    for index, month in enumerate(MONTHS[:span]):
        month_ops = [
            *draw(st.lists(claims, min_size=1, max_size=4)),
            *draw(st.lists(uses, max_size=3)),
            *draw(st.lists(facts, max_size=2)),
        ]
        late: list[dict] = []
        for op in sorted(month_ops, key=lambda o: o[2]):
            serial += 1
            made = _messages(op, serial, f"P{op[1] % count}", f"{month}-{op[2]:02d}", settlements)
            (late if draw(st.integers(0, 4)) == 0 else messages).extend(made)
        if index < closed:
            messages.append(month_closed(month))
        messages.extend(late)
    return members, messages


class Databases:
    """An empty database per example: a new SQLite file, or the test's PostgreSQL one emptied."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, postgres: Store | None) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.postgres = postgres

    @contextmanager
    def fresh_app(self) -> Iterator[OutpatientPooling]:
        if self.postgres is None:
            store = Store.parse(str(self.tmp_path_factory.mktemp("history") / "ledger.db"))
        else:
            store = self.postgres
            self._empty(store)
        app = bootstrap(store)
        try:
            yield app
        finally:
            app.close()

    @staticmethod
    def _empty(store: Store) -> None:
        """Truncate every table (events, snapshots, read models, positions); identities restart.

        Cheaper than a new database per example; the tables themselves are kept.
        """
        engine = create_engine(store.sqlalchemy_url())
        try:
            with engine.begin() as conn:
                names = list(
                    conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    ).scalars()
                )
                quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
                if quoted:
                    conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY"))
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Databases:
    """Where each example's application lives (on PostgreSQL, the conftest's fresh database)."""
    postgres = request.getfixturevalue("postgres_store") if request.param == "postgres" else None
    return Databases(tmp_path_factory, postgres)


def _book_in_batches(app: OutpatientPooling, raw: list[dict]) -> None:
    """Facts in batches (as an ingest does), closes on their own; refusals are fine, crashes not.

    Each outcome is booked, present or one refusal line; a refused close books nothing, and a
    claim is in the ledger exactly when it was booked (or was already: a refused one never is).
    """
    outcomes: list[tuple[Message, Outcome]] = []
    batch: list = []

    def flush() -> None:
        if batch:
            outcomes.extend(zip(batch, app.book(batch), strict=True))
            batch.clear()

    for msg in map(validate_message, raw):
        if msg.type in ("month.closed", "year.closed"):
            flush()
            if isinstance(msg, MonthClosed) and int(msg.month[5:]) % 2 == 0:
                app.cache.clear()  # as after a restart: the close credits members from their standing
            head = app.recorder.max_notification_id()
            outcome = app.close_period(msg)
            if isinstance(outcome, LedgerError):
                assert app.recorder.max_notification_id() == head, f"a refused {msg.type} booked events"
            outcomes.append((msg, outcome))
        else:
            batch.append(msg)
            if len(batch) == 7:
                flush()
    flush()
    booked_claims = set()
    for msg, outcome in outcomes:
        if isinstance(outcome, LedgerError):
            assert str(outcome) and "\n" not in str(outcome), outcome
        else:
            assert outcome in (BOOKED, PRESENT), outcome
        if isinstance(msg, VisitSettled | PurchaseSettled) and outcome == BOOKED:
            booked_claims.add(msg.medins_setl_id)
        event(f"{msg.type} {outcome if isinstance(outcome, str) else 'refused'}")
    for msg, outcome in outcomes:
        if isinstance(msg, VisitSettled | PurchaseSettled):
            if msg.medins_setl_id in booked_claims:
                settled = app.get_settlement(msg.medins_setl_id)
                assert (settled.psn_no, settled.kind) == (msg.psn_no, "visit" if msg.type == "visit.settled"
                                                          else "purchase")
            else:
                assert isinstance(outcome, LedgerError)
                with pytest.raises(UnknownError):
                    app.get_settlement(msg.medins_setl_id)


def _month_ends() -> list[date]:
    """The last day of each month a history can reach."""
    return [date(2024, m, calendar.monthrange(2024, m)[1]) for m in range(1, len(MONTHS) + 1)]


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    # ``databases`` is function-scoped on purpose: it hands each example an empty database.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=histories())
def test_random_histories_keep_projections_balances_caps_and_journal_consistent(databases, history):
    """Xinyang arts. 5(三), 6, 8–12, Datong art. 27, DESIGN.md §1: see the module's docstring."""
    members, messages = history
    with databases.fresh_app() as app:
        _book_in_batches(app, messages)
        incremental = dump_read_models(app)

        with app.engine.connect() as conn:
            projected = dict(
                conn.execute(select(accounts_balances.c.psn_no, accounts_balances.c.balc)).all()
            )
        for enrolment in members:
            psn_no = enrolment["psn_no"]
            state = aggregate(app, psn_no)
            # The projection keeps integer fen, the aggregate Decimal yuan.
            assert yuan(projected[psn_no]) == state.balance
            assert state.balance >= 0
            assert all(move["balc"] >= 0 for move in app.history(psn_no))
            for year in (2024,):
                final = app.cap(psn_no, year)
                assert final["used"] == state.cap_used_in(year)
                assert final["used"] <= final["cap"]
                for end in _month_ends():
                    at = app.cap(psn_no, year, as_of=end)
                    assert at["used"] <= at["cap"], (psn_no, end, at)
        assert app.trial_balance()["balanced"]
        with app.engine.connect() as conn:
            held = standings(conn, [str(member_id(m["psn_no"])) for m in members])
        assert {m["psn_no"]: held[str(member_id(m["psn_no"]))] for m in members} == {
            m["psn_no"]: aggregate(app, m["psn_no"]).standing() for m in members}
        assert audit(app).checks["period_runs"] == []  # every credit, however booked, was the one due

        app.read_models.rebuild()
        assert dump_read_models(app) == incremental
