"""Events parsed for the fields the views name (ledger/projections/payloads.py): the same read models.

DESIGN.md §1: read models are derived from the log alone. A view that names the fields it
reads of a topic gets those alone; the rows must be exactly those it writes from the whole
payload, or a field it reads is missing from its list.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.adapters.store import sqlite_engine
from ledger.demo.city import CitySpec, write_city
from ledger.projections.base import View
from ledger.projections.chain import ChainView
from ledger.projections.payloads import parser
from ledger.projections.runner import EventSource, ProjectionRunner, all_views
from ledger.projections.settlements import SETTLED
from ledger.services.ingest import ingest_file

CITY = CitySpec(admdvs="410200", members=60, hospitals=4, pharmacies=2, year=2025, months=12)
"""Kaifeng's year: settled, reversed and reimbursed bills, credits, closes and the year's clearing."""


def projected(app: Any, path: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every view (the chain too) read from the app's log into a new SQLite file: every row of every table."""
    engine = sqlite_engine(path)
    views = all_views()
    try:
        runner = ProjectionRunner(EventSource.of(app), engine, views, batch_size=97)
        runner.catch_up()
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for view in views for t in view.tables}
    finally:
        engine.dispose()


def test_design_the_views_read_the_same_rows_from_the_fields_they_name_as_from_whole_payloads(
        sqlite_app, tmp_path, monkeypatch):
    write_city(CITY, tmp_path / "city.jsonl")
    assert ingest_file(sqlite_app, str(tmp_path / "city.jsonl")).refused == 0
    named = projected(sqlite_app, tmp_path / "named.db")

    monkeypatch.setattr(View, "reads", lambda self, topic: None)
    monkeypatch.setattr(ChainView, "reads", lambda self, topic: None)
    whole = projected(sqlite_app, tmp_path / "whole.db")

    assert named == whole
    kinds = {(row[5], row[8]) for row in named["settlements_index"]}
    assert kinds == {("visit", "settled"), ("purchase", "settled"), ("reimbursed", "settled"), ("visit", "reversed")}


def test_a_settlement_is_parsed_for_the_named_fields_only_where_every_view_following_it_names_them(sqlite_app):
    runner = ProjectionRunner(EventSource.of(sqlite_app), sqlite_app.engine)
    views, parse = runner._reader(SETTLED)
    assert {v.name for v in views} == {"chain", "settlements", "journal"}
    assert parse is not orjson.loads

    class Typing(View):
        """Reads whole payloads (as the audit's re-adjudication does)."""

        name, topics, tables = "typing", (SETTLED,), ()

        def process(self, conn: Any, record: Any) -> None:
            pass

    views, parse = ProjectionRunner(EventSource.of(sqlite_app), sqlite_app.engine, [*all_views(), Typing()])._reader(
        SETTLED)
    assert parse is orjson.loads


def restricted(value: dict[str, Any], fields: list[str]) -> dict[str, Any] | None:
    """The named fields of ``value``, the slow way; None if a field is named inside something not an object."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        inner = [rest for name, _, rest in (f.partition(".") for f in fields) if name == key]
        if not inner:
            continue
        if "" in inner:
            out[key] = item
        elif isinstance(item, dict):
            found = restricted(item, inner)
            if found is None:
                return None
            out[key] = found
        else:
            return None
    return out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=3),
    max_leaves=12,
)
payloads = st.dictionaries(st.sampled_from(["day", "a", "b", "c", "result"]), json_values, max_size=5)
names = st.lists(st.sampled_from(["a", "b", "result", "result.a", "result.b", "a.c"]), max_size=4)


@given(payloads, names)
@example({"result": {"a": 1, "b": 2}, "c": 3, "day": "2025-01-01"}, ["result.a"])
@example({"result": {"a": {"c": 1}, "b": 2}}, ["result.a", "result"])
@example({"result": [1, 2], "a": 1}, ["result.a"])
@example({"result": None}, ["result.b"])
def test_the_named_fields_parse_as_the_whole_payload_restricted_to_them(payload, fields):
    """A key named whole comes whole; a key named inside an object, restricted; not an object: the payload whole."""
    expected = restricted(payload, fields)
    assert parser(tuple(fields))(orjson.dumps(payload)) == (payload if expected is None else expected)


def test_a_payload_that_is_not_json_is_refused_as_orjson_refuses_it():
    with pytest.raises(orjson.JSONDecodeError):
        parser(("result.a",))(b'{"result": {"a": 1')
