"""The published documents stay true to the code."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.exchange.messages import MESSAGE_TYPES, json_schema

ROOT = Path(__file__).resolve().parent.parent


def test_the_published_json_schema_is_what_ledger_schema_prints():
    published = json.loads((ROOT / "docs" / "messages.schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(json_schema()))


def test_the_exchange_doc_names_every_message_type():
    doc = (ROOT / "docs" / "exchange.md").read_text(encoding="utf-8")
    missing = [name for name in MESSAGE_TYPES if f"`{name}`" not in doc]
    assert not missing
