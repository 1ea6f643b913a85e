"""Each member's standing: what a month's credit reads of the member, kept for every member."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import Column, LargeBinary, String, Table, select

from ledger.adapters.transcodings import make_transcoder
from ledger.domain.members import CREDIT_FACTS, Member, standing_after
from ledger.projections.base import Record, View, among, in_order, insert_many, metadata, position_column

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from sqlalchemy import Connection

    from ledger.domain.aggregate import Received

standing_members = Table(
    "standing_members",
    metadata,
    Column("member_id", String(36), primary_key=True),
    Column("state", LargeBinary, nullable=False),
    position_column(),
    sqlite_with_rowid=False,
)
"""Each member's standing (``members.STANDING``), encoded as the event store encodes, as learnt at ``position``.

On SQLite the rows are kept in member id order (``WITHOUT ROWID``), as a month close reads them: a
page of members is a run of neighbouring rows, not a row on every database page.
"""

_TOPICS = tuple(sorted(str(vars(fact)["TOPIC"]) for fact in CREDIT_FACTS))
_TRANSCODER = make_transcoder()
_MAPPER: Mapper[UUID] = Mapper(transcoder=_TRANSCODER)


Fact = tuple[str, int, str, bytes, int]
"""A stored fact as the view keeps it until its batch ends: member, version, topic, stored JSON, position."""


class StandingView(View):
    """What a month's credit reads of each member, changed by each fact's own ``evolve``.

    A month close reads a page of members' standings in one query instead of reading every
    member back from its snapshot and events (``closing``). A batch's facts are applied at its
    end (:func:`learn`): the standings they change are read in one query and written back in two
    statements; in a rebuild, by the writer process, where the standings written before are.
    """

    name = "standing"
    topics = _TOPICS
    tables = (standing_members,)

    def __init__(self) -> None:
        self._facts: list[Fact] = []

    def begin(self, conn: Connection) -> None:  # noqa: D102
        self._facts = []

    def process(self, conn: Connection, record: Record) -> None:  # noqa: D102
        self._facts.append((record.originator_id, record.originator_version, record.topic, record.state,
                            record.position))

    def flush(self, conn: Connection) -> None:  # noqa: D102
        if self._facts:
            in_order(conn, learn, self._facts)
        self._facts = []


def learn(conn: Connection, facts: Sequence[Fact]) -> None:
    """Apply a batch's facts, in order, to the standings they change, and store those."""
    decoded = [(member, _fact(member, version, topic, state), position)
               for member, version, topic, state, position in facts]
    enrolled = {member for member, fact, _ in decoded if isinstance(fact, Member.Enrolled)}
    changed = {member for member, _, _ in decoded} - enrolled
    held = standings(conn, changed) if changed else {}
    learnt: dict[str, tuple[dict[str, Any], int]] = {}
    for member, fact, position in decoded:
        before = learnt[member][0] if member in learnt else held.get(member)
        learnt[member] = (standing_after(before, fact), position)
    if held:
        conn.execute(standing_members.delete().where(among(conn, standing_members.c.member_id, held)))
    insert_many(conn, standing_members, [{"member_id": member, "state": _TRANSCODER.encode(standing),
                                          "position": position}
                                         for member, (standing, position) in learnt.items()])


def _fact(member: str, version: int, topic: str, state: bytes) -> Received:
    """The stored fact as its event, by the event store's own mapper (upcasts included)."""
    return cast("Received", _MAPPER.to_domain_event(StoredEvent(UUID(member), version, topic, state)))


def standings(conn: Connection, member_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The standing of each of ``member_ids`` the view holds."""
    s = standing_members.c
    rows = conn.execute(select(s.member_id, s.state).where(among(conn, s.member_id, member_ids)))
    return {member: _TRANSCODER.decode(state) for member, state in rows}
