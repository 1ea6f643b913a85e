"""Tamper evidence: a record changed, deleted or reordered behind the ledger's back is named.

The chain (``ledger.projections.chain``) links each event to the one before it by position, stream,
version, topic and stored bytes; the live store keeps the seal in ``log_chain`` and an export
carries each line's hash and the head. The audit recomputes the chain from the events and
names the first position where it differs. The events table is found by inspecting the
database (``stored_events`` keyed by ``rowid`` on SQLite, ``<app>_events`` keyed by
``notification_id`` on PostgreSQL).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete, select, update

from ledger.exchange.messages import validate_message
from ledger.projections.chain import log_chain
from ledger.projections.journal import journal_entries
from ledger.projections.runner import all_views
from ledger.services import comparison
from ledger.services.audit import audit, export_log
from tests.audit.city import (
    account_used,
    build_small_city,
    delete_event,
    edit_payload,
    events_table,
    export_lines,
    insert_row,
    line_index,
    line_position,
    notifications,
    positions_of,
    stored_row,
    stored_state,
    swap_events,
)
from tests.support import institution

if TYPE_CHECKING:
    from ledger.services.audit import AuditReport

ACCOUNT_USED = "yibao:Member.AccountUsed"
INSTITUTION_REGISTERED = "yibao:Institution.Registered"
POLICY_RECORDED = "yibao:PolicyVersion.Recorded"
SETTLED = "yibao:Settlement.Settled"
ADJUSTED = "yibao:Settlement.Adjusted"


def _settled_position(app, medins_setl_id: str) -> int:
    return next(n.id for n in notifications(app) if n.topic == SETTLED
                and app.mapper.transcoder.decode(n.state)["medins_setl_id"] == medins_setl_id)


# ------------------------------------------------------------------ the live store


def test_the_events_table_is_found_by_inspecting_the_database(app):
    build_small_city(app)
    table = events_table(app.engine)
    if app.store.kind == "sqlite":
        assert (table.name, table.position) == ("stored_events", "rowid")
    else:
        assert table.position == "notification_id"
        assert table.name.endswith("_events")
    first = notifications(app)[0]
    assert stored_state(app, first.id) == first.state


def test_a_changed_payload_fails_the_audit_and_the_chain_names_its_position(app):
    """M2's account use of 50.00 rewritten to 5.00 (so the balance would read 115.00, not 70.00)."""
    build_small_city(app)
    assert audit(app).ok
    [position] = positions_of(app, ACCOUNT_USED)

    edit_payload(app, position, b'"_data_":"50.00"', b'"_data_":"5.00"')
    report = audit(app)

    assert not report.ok
    assert report.checks["chain"] == [f"position {position}: event differs from what was sealed (changed or reordered)"]
    # The rebuilt balances no longer match the live read models either.
    assert any(p.startswith("accounts_") for p in report.checks["read_models"])


def _s1_fund_share_rewritten(app, digits: str) -> tuple[int, AuditReport]:
    """S1's recorded fund share (175.00) rewritten as ``digits`` in the log; its position and the audit's report."""
    build_small_city(app)
    position = _settled_position(app, "S1")
    edit_payload(app, position, b'"hifp_pay":{"_type_":"decimal_str","_data_":"175.00"}',
                 b'"hifp_pay":{"_type_":"decimal_str","_data_":"%s"}' % digits.encode())
    return position, audit(app)


def test_a_changed_settlement_result_fails_the_chain_and_the_readjudication(app):
    """S1's fund share 175.00 rewritten to 275.00: re-adjudication under its policy gives 175.00."""
    position, report = _s1_fund_share_rewritten(app, "275.00")

    assert not report.ok
    assert report.checks["chain"] == [f"position {position}: event differs from what was sealed (changed or reordered)"]
    assert f"position {position}: settlement S1: hifp_pay recorded 275.00, re-adjudicated 175.00" in (
        report.checks["readjudication"])


def test_a_recorded_amount_rewritten_to_the_same_value_in_other_digits_still_matches_its_readjudication(app):
    """S1's fund share 175.00 rewritten as 175.0: the same Decimal, so only the chain sees the edit."""
    position, report = _s1_fund_share_rewritten(app, "175.0")

    assert report.checks["chain"] == [f"position {position}: event differs from what was sealed (changed or reordered)"]
    assert report.checks["readjudication"] == []


def test_a_claim_that_cannot_be_typed_is_named_as_a_settlement_that_cannot_be_replayed(app):
    """S1's bill with a tag no transcoding knows: named, and the audit goes on to its end."""
    build_small_city(app)
    position = _settled_position(app, "S1")
    state = stored_state(app, position)
    payload = json.loads(state)
    payload["claim"]["lines"][0]["cnt"] = {"_type_": "no_such_type", "_data_": "1"}
    edit_payload(app, position, state, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())

    report = audit(app)

    [problem] = report.checks["readjudication"]
    assert problem.startswith(f"position {position}: settlement S1: cannot replay: ")
    assert report.settlements_replayed > 1


def test_a_changed_adjustment_fails_the_readjudication(app):
    """S4's adjustment (refused: hospitalised) rewritten to say the fund still paid 150.00."""
    build_small_city(app)
    [position] = positions_of(app, ADJUSTED)
    state = stored_state(app, position)
    payload = json.loads(state)
    assert payload["result"]["hifp_pay"] == {"_type_": "decimal_str", "_data_": "0.00"}
    payload["result"]["hifp_pay"]["_data_"] = "150.00"
    edit_payload(app, position, state, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())

    report = audit(app)

    assert f"position {position}: settlement S4: hifp_pay recorded 150.00, re-adjudicated 0.00" in (
        report.checks["readjudication"])
    assert report.checks["chain"] == [f"position {position}: event differs from what was sealed (changed or reordered)"]


def test_a_deleted_record_fails_the_audit_and_the_chain_names_its_position(app):
    build_small_city(app)
    [position] = positions_of(app, ACCOUNT_USED)

    delete_event(app, position)
    report = audit(app)

    assert not report.ok
    assert report.checks["chain"] == [f"position {position}: sealed in the chain but missing from the log (deleted)"]
    assert report.events == len(notifications(app))


def test_a_sealed_time_changed_behind_the_ledger_is_named_by_its_position(app):
    """The seal's recorded time is what ``--known-at TIMESTAMP`` reads: a changed one is named, its events intact."""
    build_small_city(app)
    [position] = positions_of(app, ACCOUNT_USED)
    c = log_chain.c
    with app.engine.begin() as conn:
        recorded_at = conn.execute(select(c.recorded_at).where(c.position == position)).scalar_one()
        conn.execute(update(log_chain).where(c.position == position).values(recorded_at="2020-01-01T00:00:00+00:00"))

    report = audit(app)

    assert report.checks["chain"] == [
        f"position {position}: sealed as recorded at 2020-01-01T00:00:00+00:00, the event says {recorded_at}"]
    assert report.checks["read_models"] == report.checks["readjudication"] == []


def test_the_last_record_deleted_is_named_too(app):
    build_small_city(app)
    last = app.recorder.max_notification_id()

    delete_event(app, last)
    report = audit(app)

    assert report.checks["chain"] == [f"position {last}: sealed in the chain but missing from the log (deleted)"]


def test_a_record_slipped_into_a_gap_of_the_log_is_named_as_inserted(app):
    """Positions may have gaps (a rolled-back transaction on PostgreSQL). A row written into one
    behind the ledger's back was never sealed: the audit names it."""
    build_small_city(app)
    last = app.recorder.max_notification_id()
    outcomes = app.book([validate_message(account_used("M1", "10.00", "2024-03-01", ref="R-2")),
                         validate_message(institution("H9", level=2))], catch_up=False)
    assert outcomes == ["booked", "booked"]
    [gap] = [n.id for n in notifications(app) if n.id > last and n.topic == ACCOUNT_USED]
    row = stored_row(app, gap)
    delete_event(app, gap)  # the gap, before the read models (and the seal) saw it
    app.read_models.catch_up()
    assert audit(app).ok

    insert_row(app, gap, row)
    report = audit(app)

    assert not report.ok
    assert report.checks["chain"] == [f"position {gap}: in the log but not in the sealed chain (inserted)"]


def test_reordered_records_fail_the_audit_and_the_chain_names_the_first_position(app):
    """H3's and H2's registrations swap places; every event still decodes and no read model changes."""
    build_small_city(app)
    first, second = positions_of(app, INSTITUTION_REGISTERED)[:2]
    before = {n.id: n.state for n in notifications(app)}

    swap_events(app, first, second)
    after = {n.id: n.state for n in notifications(app)}
    assert (after[first], after[second]) == (before[second], before[first])  # a reordering, nothing else
    report = audit(app)

    assert not report.ok
    assert report.checks["chain"] == [f"position {first}: event differs from what was sealed (changed or reordered)"]
    assert report.checks["read_models"] == []
    assert report.checks["readjudication"] == []


def test_a_tampered_policy_version_record_fails_the_readjudication(app):
    """The recorded policy's level-3 ratio 0.50 rewritten to 0.60: its content hash no longer holds,
    so the version is refused and every settlement that used it cannot be replayed."""
    build_small_city(app)
    [position] = positions_of(app, POLICY_RECORDED)
    state = stored_state(app, position)
    payload = json.loads(state)
    version = payload["content_hash"]
    for param in payload["record"]["params"]:
        if param["name"] == "ratio_level3":
            assert param["value"] == "0.50"
            param["value"] = "0.60"
    edit_payload(app, position, state, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())

    report = audit(app)

    assert not report.ok
    problems = report.checks["readjudication"]
    assert problems[0].startswith(
        f"position {position}: policy version {version}: recorded policy {version} hashes to ")
    s1 = _settled_position(app, "S1")
    assert f"position {s1}: settlement S1 uses policy {version}, which the log does not hold" in problems
    assert report.checks["chain"] == [f"position {position}: event differs from what was sealed (changed or reordered)"]


def test_every_compared_column_is_text_an_integer_or_bytes_which_both_drivers_give_alike():
    """The comparison reads the drivers' own rows (``comparison.chunks``): a live PostgreSQL store against a
    SQLite scratch compares row for row only while no column needs SQLAlchemy to convert it."""
    tables = [log_chain, *(t for v in all_views() if v.rebuildable for t in v.tables)]
    assert {c.type.python_type for t in tables for c in t.columns} <= {str, int, bytes}


@pytest.mark.parametrize("at_once", [2000, 3])
def test_a_read_model_row_changed_behind_the_ledger_is_named_by_its_number_in_key_order(app, monkeypatch, at_once):
    """The comparison reads the live side a chunk at a time, the rebuilt journal as the rebuild makes it (a batch at
    a time); the row's number is its place in the whole table."""
    monkeypatch.setattr(comparison, "COMPARED_AT_ONCE", at_once)
    build_small_city(app)
    e = journal_entries.c
    with app.engine.begin() as conn:
        rows = conn.execute(select(journal_entries).order_by(e.position, e.entry)).all()
        fifth = rows[4]
        conn.execute(update(journal_entries).where(e.position == fifth.position, e.entry == fifth.entry)
                     .values(amount=fifth.amount + 1))
        last = rows[-1]
        conn.execute(delete(journal_entries).where(e.position == last.position, e.entry == last.entry))

    report = audit(app)

    changed = (*fifth[:-1], fifth.amount + 1)
    assert report.checks["read_models"] == [f"journal_entries: row 5 differs: live {changed}, rebuilt {tuple(fifth)}"]
    assert report.checks["journal"] == []  # the trial balance is the rebuilt journal's, not the live one's

    with app.engine.begin() as conn:
        conn.execute(update(journal_entries).where(e.position == fifth.position, e.entry == fifth.entry)
                     .values(amount=fifth.amount))
    assert audit(app).checks["read_models"] == [
        f"journal_entries: row {len(rows)} differs: live None, rebuilt {tuple(last)}"]


# ------------------------------------------------------------------ an export file


@pytest.fixture
def exported(sqlite_app, tmp_path):
    """The small city exported; the file is what the tests tamper with."""
    build_small_city(sqlite_app)
    path = tmp_path / "ledger.jsonl"
    count, head = export_log(sqlite_app, str(path))
    assert audit(export=str(path)).ok
    return path, count, head, sqlite_app


def test_an_export_with_one_payload_edited_fails_and_names_the_line(exported):
    path, _, _, app = exported
    [position] = positions_of(app, ACCOUNT_USED)
    lines = export_lines(path)
    i = line_index(lines, position)
    assert lines[i].count(b'"_data_":"50.00"') == 1
    lines[i] = lines[i].replace(b'"_data_":"50.00"', b'"_data_":"5.00"')
    path.write_bytes(b"".join(lines))

    report = audit(export=str(path))

    assert not report.ok
    assert report.checks["chain"] == [
        f"position {position}: the record does not match its hash (changed, deleted or reordered)"]


def test_an_export_with_a_line_deleted_fails_at_the_next_record(exported):
    """The line's own hash goes with it; the next record no longer chains to what precedes it."""
    path, _, _, app = exported
    [position] = positions_of(app, ACCOUNT_USED)
    lines = export_lines(path)
    i = line_index(lines, position)
    following = line_position(lines[i + 1])
    del lines[i]
    path.write_bytes(b"".join(lines))

    report = audit(export=str(path))

    assert not report.ok
    assert report.checks["chain"] == [
        f"position {following}: the record does not match its hash (changed, deleted or reordered)"]


def test_an_export_with_its_last_record_deleted_fails_on_the_head(exported):
    path, count, head, _ = exported
    lines = export_lines(path)
    del lines[-2]
    path.write_bytes(b"".join(lines))

    report = audit(export=str(path))

    assert not report.ok
    [problem] = report.checks["chain"]
    assert problem.startswith(f"the chain head {head} does not match the records")
    assert report.events == count - 1


def test_an_export_cut_short_of_its_head_line_fails(exported):
    path, _, _, _ = exported
    lines = export_lines(path)
    path.write_bytes(b"".join(lines[:-1]))

    report = audit(export=str(path))

    assert report.checks["chain"] == ["the file has no chain head line (truncated?)"]


def test_an_export_with_two_lines_swapped_fails_and_names_the_first(exported):
    path, _, _, app = exported
    first, second = positions_of(app, INSTITUTION_REGISTERED)[:2]
    lines = export_lines(path)
    i, j = line_index(lines, first), line_index(lines, second)
    lines[i], lines[j] = lines[j], lines[i]
    path.write_bytes(b"".join(lines))

    report = audit(export=str(path))

    assert not report.ok
    assert report.checks["chain"] == [
        f"position {first}: the record does not match its hash (changed, deleted or reordered)"]
    assert report.checks["file"] == [f"{path}:{j + 1}: position {first} out of order"]


def test_an_export_with_a_tampered_policy_version_fails_the_readjudication(exported):
    path, _, _, app = exported
    [position] = positions_of(app, POLICY_RECORDED)
    lines = export_lines(path)
    i = line_index(lines, position)
    assert lines[i].count(b'"name":"ratio_level3","value":"0.50"') == 1
    lines[i] = lines[i].replace(b'"name":"ratio_level3","value":"0.50"', b'"name":"ratio_level3","value":"0.60"')
    path.write_bytes(b"".join(lines))

    report = audit(export=str(path))

    assert not report.ok
    assert report.checks["readjudication"][0].startswith(f"position {position}: policy version ")
    assert report.checks["chain"] == [
        f"position {position}: the record does not match its hash (changed, deleted or reordered)"]
