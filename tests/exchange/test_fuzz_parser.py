"""Fuzzing the message parser (issue 20, the suite): any line is a message or one refusal, never a crash.

Bounded for CI: the pure parser takes a few hundred examples, the store a few dozen. The
mutations start from a valid message of every type, so most lines get past the JSON and
reach the field checks, where the interesting refusals are.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.exchange.messages import Message, MessageError, parse_message
from ledger.refusals import RefusalCode
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.exchange.scenario import every_type, head
from tests.support import write_jsonl

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ledger.adapters.store import Store

VALID = every_type()

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.decimals(allow_nan=False, allow_infinity=False).map(str) | st.text(max_size=30)
           | st.sampled_from(["", " 5.00 ", "1E2", "2999-01-01", "1900-01-01", "\u0000", "yes", "-0", "NaN"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message with one field replaced, removed or added, or an item's field likewise."""
    raw = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    target = raw
    if "items" in raw and draw(st.booleans()):
        target = raw["items"][0]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "add" or not target:
        target[draw(st.text(max_size=12))] = draw(json_values)
    else:
        key = draw(st.sampled_from(sorted(target)))
        if action == "remove":
            del target[key]
        else:
            target[key] = draw(json_values)
    return raw


def outcome(line: bytes) -> Message | MessageError:
    try:
        return parse_message(line)
    except MessageError as e:
        return e


def check_one_refusal(result: Message | MessageError) -> None:
    if isinstance(result, MessageError):
        assert result.code in set(RefusalCode)
        assert "\n" not in str(result) and "\r" not in str(result)
        assert len(str(result)) < 2000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_message_or_one_refusal(line):
    check_one_refusal(outcome(line))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_a_message_or_one_refusal(value):
    check_one_refusal(outcome(json.dumps(value).encode()))


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_a_mutated_message_is_a_message_or_one_refusal(raw):
    check_one_refusal(outcome(json.dumps(raw, ensure_ascii=False).encode()))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(VALID))
def test_every_valid_message_parses_and_its_fingerprint_is_stable(raw):
    msg = parse_message(json.dumps(raw).encode())
    assert msg.fingerprint() == parse_message(json.dumps(raw, indent=1).encode()).fingerprint()


# ------------------------------------------------------------------ on a store: a refusal changes nothing


class FuzzLedger:
    """A ledger holding the file of every message type, into which fuzzed lines are ingested."""

    def __init__(self, store: Store, folder: Any) -> None:
        self.app = bootstrap(store)
        self.folder = folder
        report = ingest_file(self.app, str(write_jsonl(folder / "setup.jsonl", *VALID)))
        assert report.refused == 0, report.errors
        self.runs = 0

    def ingest(self, raw: dict[str, Any]) -> tuple[int, int, Any]:
        self.runs += 1
        path = write_jsonl(self.folder / f"fuzz-{self.runs}.jsonl", raw)
        before = head(self.app)
        report = ingest_file(self.app, str(path))
        return before, head(self.app), report


@pytest.fixture(scope="module")
def fuzz_ledger(module_store: Store, tmp_path_factory: Any) -> Iterator[FuzzLedger]:
    ledger = FuzzLedger(module_store, tmp_path_factory.mktemp("fuzz"))
    try:
        yield ledger
    finally:
        ledger.app.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mutated())
def test_a_refused_fuzzed_line_changes_nothing(fuzz_ledger, raw):
    before, after, report = fuzz_ledger.ingest(raw)
    assert report.lines == 1
    if report.refused:
        assert after == before, report.errors
        [error] = report.errors
        assert "\n" not in error
        assert error.rstrip("]").rsplit("[", 1)[1].split(",")[0] in {c.value for c in RefusalCode}
