"""A list of values asked about in one query (``among``) finds exactly those values, on both stores."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, select

from ledger.projections.base import among

AWKWARD = ['a"b', "c\\d", "e,f", "{g}", " h ", "NULL", "", "医保"]


def test_among_finds_exactly_the_values_asked_for_however_they_are_spelt(store):
    table = Table("words", MetaData(), Column("word", String(16), primary_key=True))
    engine = store.engine()
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"word": w} for w in [*AWKWARD, "other", "a", "b"]])
            found = conn.execute(select(table.c.word).where(among(conn, table.c.word, AWKWARD))).scalars().all()
    finally:
        engine.dispose()
    assert sorted(found) == sorted(AWKWARD)
