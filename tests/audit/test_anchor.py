"""An anchored chain head: a log cut at its end, or rewritten together with its seal, fails the audit.

The seal lives in the same database as the events, so whoever deletes the last event and its
link (or rewrites an event and every link after it) leaves a log that agrees with itself. A
head published elsewhere (``ledger checkpoint``, an export's last line), signed with the
operator's Ed25519 key, is what the audit checks the log against.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from ledger.entrypoints.cli import main
from ledger.projections.chain import log_chain
from ledger.services.anchor import (
    Checkpoint,
    append_checkpoint,
    current_head,
    expected_head,
    generate_key,
    load_private_key,
    load_public_key,
)
from ledger.services.audit import audit, export_log
from tests.audit.city import build_small_city, delete_event, edit_payload, positions_of, reseal
from tests.support import book, institution

INSTITUTION_REGISTERED = "yibao:Institution.Registered"


@pytest.fixture
def keys(tmp_path):
    generate_key(str(tmp_path / "operator.key"))
    generate_key(str(tmp_path / "stranger.key"))
    return tmp_path


def _cut_the_last_event(app) -> int:
    last = app.recorder.max_notification_id()
    delete_event(app, last)
    with app.engine.begin() as conn:
        conn.execute(delete(log_chain).where(log_chain.c.position == last))
    app.read_models.rebuild()
    return last


def test_a_log_cut_at_its_end_passes_without_an_anchor_and_fails_with_one(app, keys):
    build_small_city(app)
    anchored = current_head(app).signed(load_private_key(str(keys / "operator.key")))
    append_checkpoint(anchored, str(keys / "heads.jsonl"))

    last = _cut_the_last_event(app)

    assert audit(app).ok  # the seal was cut with the log: nothing inside the store shows it
    report = audit(app, expect=expected_head(str(keys / "heads.jsonl")),
                   trusted=load_public_key(str(keys / "operator.key.pub")))
    assert not report.ok
    assert report.checks["anchor"] == [
        f"the log ends at position {last - 1}, before the anchored head at {last} (truncated)"]


def test_a_log_rewritten_with_its_seal_fails_against_the_anchor(app, keys):
    """H2's registered name changed, and every link after it recomputed: only the anchor disagrees."""
    build_small_city(app)
    anchored = current_head(app)
    position = positions_of(app, INSTITUTION_REGISTERED)[1]
    edit_payload(app, position, b'"fixmedins_name":"H2"', b'"fixmedins_name":"H2-renamed"')
    reseal(app)

    assert audit(app).ok
    report = audit(app, expect=anchored)
    assert report.checks["anchor"] == [
        f"the log does not pass through the anchored head {anchored.hash} at position {anchored.position} "
        "(rewritten)"]
    assert not audit(app, expect=expected_head(anchored.hash)).ok  # the hash alone is found nowhere


def test_a_log_that_grew_after_the_checkpoint_extends_it(app):
    build_small_city(app)
    anchored = current_head(app)
    book(app, institution("H9", level=2))
    assert current_head(app).position > anchored.position
    assert audit(app, expect=anchored).checks["anchor"] == []
    assert audit(app, expect=expected_head(anchored.hash)).ok


def test_a_checkpoint_with_a_bad_signature_or_the_wrong_key_fails(app, keys):
    build_small_city(app)
    signed = current_head(app).signed(load_private_key(str(keys / "operator.key")))
    forged = Checkpoint(signed.position, signed.hash, "2099-01-01T00:00:00+00:00", signed.public_key,
                        signed.signature)
    assert audit(app, expect=forged).checks["anchor"] == [
        f"the checkpoint's signature does not verify (position {signed.position}, hash {signed.hash})"]
    stranger = load_public_key(str(keys / "stranger.key.pub"))
    assert audit(app, expect=signed, trusted=stranger).checks["anchor"] == [
        f"the checkpoint is signed by key {signed.public_key}, not by the trusted key"]
    unsigned = Checkpoint(signed.position, signed.hash, signed.recorded_at)
    assert audit(app, expect=unsigned, trusted=stranger).checks["anchor"] == [
        "the checkpoint is not signed, but a trusted key was given"]
    assert audit(app, expect=signed, trusted=load_public_key(str(keys / "operator.key.pub"))).ok


def test_an_export_carries_its_signed_head_and_a_cut_export_fails_against_it(app, keys, tmp_path):
    build_small_city(app)
    path = tmp_path / "log.jsonl"
    count, head = export_log(app, str(path), key=load_private_key(str(keys / "operator.key")))
    tail = json.loads(path.read_bytes().splitlines()[-1])
    assert (tail["chain_head"], tail["position"], tail["events"]) == (head, count, count)
    assert audit(export=str(path), expect=expected_head(str(path))).ok

    lines = path.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    previous = json.loads(lines[-3][:lines[-3].find(b',"payload":')] + b"}")
    cut.write_bytes(b"".join(lines[:-2]) + json.dumps({"chain_head": previous["hash"], "events": count - 1}).encode()
                    + b"\n")
    assert audit(export=str(cut)).ok
    report = audit(export=str(cut), expect=expected_head(str(path)))
    assert report.checks["anchor"] == [
        f"the log ends at position {count - 1}, before the anchored head at {count} (truncated)"]

    forged = tmp_path / "forged.jsonl"
    forged.write_bytes(b"".join(lines[:-1]) + json.dumps({**tail, "recorded_at": "2099-01-01"}).encode() + b"\n")
    assert audit(export=str(forged)).checks["chain"] == [
        f"the checkpoint's signature does not verify (position {count}, hash {head})"]


def test_the_commands_keygen_checkpoint_and_audit_expect_head(app, tmp_path):
    """End to end on the CLI: a signed checkpoint appended to a file, then the audit against it, clean and cut."""
    build_small_city(app)
    key = tmp_path / "operator.key"

    def ledger(*args: str):
        return CliRunner().invoke(main, ["--db", app.store.url, *args], catch_exceptions=False)

    assert ledger("keygen", str(key)).exit_code == 0
    made = ledger("checkpoint", "--key", str(key), "--out", str(tmp_path / "heads.jsonl"))
    assert made.exit_code == 0, made.output
    anchored = json.loads((tmp_path / "heads.jsonl").read_text().splitlines()[-1])
    assert anchored["position"] == app.recorder.max_notification_id()
    expect = ["audit", "--quiet", "--expect-head", str(tmp_path / "heads.jsonl"), "--trusted-key", f"{key}.pub"]
    assert ledger(*expect).exit_code == 0

    _cut_the_last_event(app)
    cut = ledger(*expect)
    assert cut.exit_code == 1
    assert "  anchor           DIFFERS" in cut.stdout
    missing = ledger("audit", "--quiet", "--expect-head", str(tmp_path / "nowhere.jsonl"))
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"ledger: --expect-head {tmp_path / 'nowhere.jsonl'}: neither a chain hash")
