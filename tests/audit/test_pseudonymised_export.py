"""A pseudonymised export: no person's identifier in it, one pseudonym per person, and its audit passes.

The regulator replays every amount from it (re-adjudication, journal, chain) without learning
who was treated; the same key gives the same pseudonyms, another key others.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from ledger.entrypoints.cli import main
from ledger.services.audit import audit, export_log
from ledger.services.pseudonyms import Pseudonymiser
from tests.audit.city import (
    SMALL_CITY_JOURNAL_TOTAL,
    SMALL_CITY_SETTLEMENTS_REPLAYED,
    build_small_city,
    export_lines,
)

KEY = b"k" * 32


def _payloads(path) -> list[dict]:
    out = []
    for line in export_lines(path)[:-1]:
        meta = json.loads(line)
        out.append({**meta["payload"], "originator_id": meta["originator_id"]})
    return out


def test_a_pseudonymised_export_holds_no_person_number_and_its_audit_passes_tongyibao_2022_1_art27(app, tmp_path):
    """The small city's journal, 1754.30 each side, and its five re-adjudications survive pseudonymisation."""
    build_small_city(app)
    path = tmp_path / "pseudonymised.jsonl"
    export_log(app, str(path), pseudonymise=Pseudonymiser(KEY))

    text = path.read_bytes()
    for psn_no in (b"M1", b"M2"):
        assert b'"' + psn_no + b'"' not in text and b'"' + psn_no + b"/" not in text
    p = Pseudonymiser(KEY)
    m1, m2 = p.pseudonym("M1"), p.pseudonym("M2")
    enrolled = [x for x in _payloads(path) if x.get("originator_topic") == "yibao:Member" and "psn_no" in x]
    assert sorted(x["psn_no"] for x in enrolled) == sorted([m1, m2])
    settled_by = {x["medins_setl_id"]: x["psn_no"] for x in _payloads(path) if "medins_setl_id" in x and "claim" in x}
    assert settled_by == {"S1": m1, "S2": m1, "S3": m2, "S4": m2}
    assert json.loads(export_lines(path)[-1])["pseudonymised"] is True

    report = audit(export=str(path))
    assert report.ok, report.checks
    assert report.settlements_replayed == SMALL_CITY_SETTLEMENTS_REPLAYED
    assert report.journal["debit"] == report.journal["credit"] == SMALL_CITY_JOURNAL_TOTAL


def test_the_same_key_gives_the_same_pseudonyms_and_another_key_others(app, tmp_path):
    build_small_city(app)
    first, again, other = (tmp_path / f"{name}.jsonl" for name in ("first", "again", "other"))
    export_log(app, str(first), pseudonymise=Pseudonymiser(KEY))
    export_log(app, str(again), pseudonymise=Pseudonymiser(KEY))
    export_log(app, str(other), pseudonymise=Pseudonymiser(b"o" * 32))
    ids = [{x["originator_id"] for x in _payloads(path)} for path in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]
    assert Pseudonymiser(KEY).pseudonym("M1") != Pseudonymiser(b"o" * 32).pseudonym("M1")


def test_ledger_export_pseudonymise_then_audit_from_the_file(app, tmp_path):
    build_small_city(app)
    key, path = tmp_path / "pseudonym.key", tmp_path / "for-the-regulator.jsonl"
    key.write_bytes(KEY)
    made = CliRunner().invoke(main, ["--db", app.store.url, "export", str(path), "--pseudonymise", str(key)],
                              catch_exceptions=False)
    assert made.exit_code == 0, made.output
    assert b'"M1"' not in path.read_bytes()
    audited = CliRunner().invoke(main, ["audit", "--from", str(path), "--quiet"], catch_exceptions=False)
    assert audited.exit_code == 0, audited.output
    assert audited.stdout.rstrip().endswith("audit passed")
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    refused = CliRunner().invoke(main, ["--db", app.store.url, "export", str(path), "--pseudonymise", str(short)])
    assert (refused.exit_code, refused.stderr) == (
        1, "ledger: a pseudonymisation key needs at least 16 bytes [bad_argument]\n")
