"""The audit's comparisons: the live read models and the sealed chain against what the events rebuild.

Each table is compared in its key order, row by row, as the drivers give the rows (the read
models' columns are text, integers and bytes, which both drivers give as the same Python
values), a chunk at a time (:func:`ledger.adapters.cursors.chunks`), so that memory does not
grow with the tables. Only the first difference is kept, with its row number in key order.

The rebuilt rows reach a :class:`Comparison` in one of two ways:

- from the audit's scratch database, once the rebuild is done (:func:`first_difference`);
- as the rebuild makes them (:class:`Streamed`), for the tables whose rows the views make in
  key order and never read back: the chain, the journal and the accounts' movements, most of
  the rows a city's read models hold. Those rows are never written to the scratch database
  (:data:`ledger.projections.base.DIVERTED`): writing them and reading them back cost about a
  sixth of the audit's own process (docs/benchmarks.md, fifteenth set).
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import closing, contextmanager
from functools import partial
from itertools import zip_longest
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select

from ledger.adapters.cursors import Row, chunks
from ledger.projections.accounts import accounts_movements
from ledger.projections.base import DIVERTED, Diversion
from ledger.projections.chain import GENESIS, log_chain
from ledger.projections.journal import journal_entries, trial_balance_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sqlalchemy import Connection, Engine, Table

    from ledger.services.anchor import Checkpoint

COMPARED_AT_ONCE = 2000
"""Rows fetched from a side at a time: the comparison's memory does not grow with the tables."""
Found = tuple[Row | None, Row | None, int]
"""The first differing rows, live and rebuilt (None: that side had no more), and the row's number."""


def table_query(table: Table) -> Select[Any]:
    """A read-model table's rows in key order (every column: a table without a key is ordered by all)."""
    return select(table).order_by(*(list(table.primary_key.columns) or list(table.columns)))


CHAIN_QUERY = select(log_chain.c.position, log_chain.c.hash, log_chain.c.recorded_at).order_by(log_chain.c.position)
"""The sealed chain as compared: each position's hash, and when it was recorded (what ``--known-at`` reads)."""


class Comparison:
    """The live rows of ``query`` against rebuilt rows fed in the same order, until the first difference."""

    def __init__(self, live: Connection, query: Select[Any], cursor_name: str) -> None:
        self._chunks = chunks(live, query, cursor_name, COMPARED_AT_ONCE)
        self._live: Sequence[Row] = []
        self._at = 0
        self.seen = 0
        """Rows compared so far (and found equal)."""
        self.found: Found | None = None

    def feed(self, rows: Sequence[Row]) -> None:
        """The rebuilt side's next rows."""
        while rows and self.found is None:
            if self._at == len(self._live):
                self._live, self._at = next(self._chunks, []), 0
            theirs = self._live[self._at:self._at + len(rows)]
            # As many of ours as the live chunk has left; with the live side at its end, one (which differs).
            ours, rows = rows[:len(theirs) or 1], rows[len(theirs) or 1:]
            if theirs != ours:
                number, (x, y) = next((i, pair) for i, pair in enumerate(zip_longest(theirs, ours))
                                      if pair[0] != pair[1])
                self.found = (x, y, self.seen + number + 1)
            self._at += len(theirs)
            self.seen += len(ours)

    def finish(self) -> Found | None:
        """Once the rebuilt side has given every row: the first difference, if the live side had more or differed."""
        if self.found is None:
            if self._at < len(self._live):
                self.found = (self._live[self._at], None, self.seen + 1)
            elif (more := next(self._chunks, None)) is not None:
                self.found = (more[0], None, self.seen + 1)
        self.close()
        return self.found

    def close(self) -> None:
        """Close the live side's cursor (a PostgreSQL connection holds one cursor of a name at a time)."""
        self._chunks.close()


def first_difference(live: Connection, rebuilt: Connection, query: Select[Any]) -> Found | None:
    """The first rows where the two databases' answers to ``query`` differ, and the row's number."""
    with closing(Comparison(live, query, "audit_compare")) as comparison, \
            closing(chunks(rebuilt, query, "audit_rebuilt", COMPARED_AT_ONCE)) as ours:
        for rows in ours:
            comparison.feed(rows)
            if comparison.found is not None:
                break
        return comparison.finish()


class Streamed:
    """The chain, the journal and the accounts' movements, compared with the live ones as the rebuild makes them.

    The views make these tables' rows in key order and never read them back, so their rows need
    not be stored to be compared.

    Also keeps what the audit would otherwise have read back from those tables: the chain's
    head, its link at an anchored head, and the journal's trial balance.
    """

    def __init__(self, live: Connection, watch: Checkpoint | None) -> None:
        self.chain = Comparison(live, CHAIN_QUERY, "audit_chain")
        self.tables = {t: Comparison(live, table_query(t), f"audit_{t.name}")
                       for t in (journal_entries, accounts_movements)}
        self._rows_of = {t: itemgetter(*(c.name for c in t.columns)) for t in self.tables}
        self.head: tuple[int, str] = (0, GENESIS)
        self.watch = watch
        self.found_at_watch: tuple[int, str] | None = None
        """The recomputed (position, hash) at the anchored head, if the chain passes through it."""
        self._debits: defaultdict[str, int] = defaultdict(int)
        self._credits: defaultdict[str, int] = defaultdict(int)

    @contextmanager
    def diverting(self, scratch: Engine) -> Iterator[None]:
        """While the rebuild runs: the streamed tables' rows come here, not to the ``scratch`` database."""
        token = DIVERTED.set(Diversion(scratch, {log_chain: self._links, journal_entries: self._entries,
                                                 accounts_movements: partial(self._compare, accounts_movements)}))
        try:
            yield
        finally:
            DIVERTED.reset(token)

    def _links(self, rows: Sequence[dict[str, Any]]) -> None:
        links = [(row["position"], row["hash"], row["recorded_at"]) for row in rows]
        if self.watch is not None and self.found_at_watch is None:
            self.found_at_watch = next(((p, h) for p, h, _ in links if self.watch.passes(p, h)), None)
        if links:
            self.head = links[-1][:2]
        self.chain.feed(links)

    def _entries(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            self._debits[row["debit"]] += row["amount"]
            self._credits[row["credit"]] += row["amount"]
        self._compare(journal_entries, rows)

    def _compare(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        self.tables[table].feed(list(map(self._rows_of[table], rows)))

    def trial_balance(self) -> dict[str, Any]:
        """The rebuilt journal's trial balance."""
        return trial_balance_of(self._debits, self._credits)

    def finish(self) -> dict[Table, Found | None]:
        """Once the rebuild is done: each table's first difference (the chain's under ``log_chain``)."""
        return {log_chain: self.chain.finish(), **{t: c.finish() for t, c in self.tables.items()}}

    def close(self) -> None:
        """Close the live side's cursors (the rebuild failed before :meth:`finish`)."""
        for comparison in (self.chain, *self.tables.values()):
            comparison.close()
