"""The batch runs collect garbage less often, and leave the collector as they found it."""

import gc
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine

from ledger.adapters.collector import BATCH_THRESHOLDS, batch_collection
from ledger.exchange.messages import MessageError
from ledger.policy.files import default_library
from ledger.services.ingest import ingest_file


def test_batch_thresholds_inside_and_the_previous_ones_after():
    before = gc.get_threshold()
    with batch_collection():
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == before


def test_thresholds_come_back_when_the_run_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_collection():
        raise RuntimeError
    assert gc.get_threshold() == before


def test_ingest_runs_at_the_batch_thresholds(tmp_path, monkeypatch):
    seen = []

    def parse(raw):
        seen.append(gc.get_threshold())
        raise MessageError("-", "-", "refused for the test")

    monkeypatch.setattr("ledger.services.ingest.parse_message", parse)
    path = tmp_path / "one.jsonl"
    path.write_text('{"type": "member.enrolled"}\n')
    app = SimpleNamespace(catch_up=lambda progress: 0, engine=create_engine("sqlite://"),
                          log_present=lambda: None, library=default_library())
    report = ingest_file(app, str(path))  # a stand-in: ingest needs only these
    assert (seen, report.refused) == ([BATCH_THRESHOLDS], 1)
