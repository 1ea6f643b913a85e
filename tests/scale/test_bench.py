"""scripts/bench.py, the issue's harness, run end to end on a small city (it asserts no times).

Both floors must append exactly as many events as the ingest wrote, the second to the same
number of streams in the same transactions, so that the ratios compare like with like. On
PostgreSQL the ledger appends past the recorder's ``insert_events``, and the harness must still
see each transaction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_measures_every_phase_on_the_same_events(store, tmp_path):
    out = tmp_path / "figures.json"
    server = ["--db", os.environ["LEDGER_TEST_POSTGRES_URL"]] if store.kind == "postgresql" else []
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--events", "2000", "--queries", "20",
                    "--close-members", "50", "--json", str(out), *server], check=True, capture_output=True, cwd=ROOT)
    figures = json.loads(out.read_text())

    ingest = figures["ingest"]
    assert ingest["refused"] == 0
    assert figures["floor"]["events"] == figures["floor_streams"]["events"] == ingest["events"]
    assert figures["rebuild"]["events"] == figures.get("sqlite3", ingest)["events"] == ingest["events"]
    assert ingest["transactions"] > 1
    assert ingest["events_per_transaction"] >= ingest["streams_per_transaction"] >= ingest[
        "new_streams_per_transaction"] > 0
    assert figures["audit"]["ok"] is True
    assert len(ingest["closes"]) == figures["city"]["months"]  # each month's close timed, its credits counted
    assert all(close["events"] > 0 for close in ingest["closes"])
    # 1101 and 5206 over HTTP, to the service and to the bare stack with the same requests
    assert {"balance", "cap", "1101", "5206", "bare 1101", "bare 5206"} <= set(figures["queries"])
    assert set(figures["ratios"]) == {"ingest_vs_floor_append", "ingest_vs_floor_append_our_streams",
                                      "rebuild_vs_floor_read_decode", "audit_vs_floor_read_decode"}
    assert all(ratio > 0 for ratio in figures["ratios"].values())
    # a month close of --close-members members on a store of its own, against its own floor
    assert figures["close_members"]["close"]["credits"] == 50
    assert figures["close_members"]["close_vs_floor_append"] > 0
