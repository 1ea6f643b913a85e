"""Ingest and rebuild killed (SIGKILL) at random points, resumed, and compared with a clean run, on both stores.

An ingest run again after a kill books what the kill lost and nothing twice: each stream's
events are the clean run's, event for event (the recorded time aside). A rebuild killed
part-way leaves its views with the positions they reached, in the same transactions as their
rows; any catch-up goes on from there, and the views equal those of a rebuild never stopped.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from ledger.adapters.store import Store
from ledger.demo.city import CitySpec, write_city
from ledger.projections.runner import all_views
from ledger.services.application import OutpatientPooling
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file
from tests.conftest import fresh_postgres_database

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

CLI = "import sys; from ledger.entrypoints.cli import main; sys.exit(main())"
KILLS = 3


def _streams(app: OutpatientPooling) -> dict[str, list[tuple[int, str, bytes]]]:
    """Every stream's events in order, without the wall-clock time each was recorded at."""
    out: dict[str, list[tuple[int, str, bytes]]] = {}
    for n in app.recorder.select_notifications(1, 1_000_000):
        payload = json.loads(n.state)
        del payload["timestamp"]
        out.setdefault(str(n.originator_id), []).append((n.originator_version, n.topic, json.dumps(payload).encode()))
    return out


def _tables(app: OutpatientPooling) -> dict[str, list[tuple]]:
    """Every rebuildable read model, row by row."""
    app.read_models.catch_up()
    with app.engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*(t.primary_key.columns or t.columns)))]
                for v in all_views() if v.rebuildable for t in v.tables}


def _killed_at_random(rng: random.Random, *command: str) -> int:
    """Run the CLI command up to KILLS times, each killed after a random moment if still running; the kills."""
    kills = 0
    for _ in range(KILLS):
        process = subprocess.Popen([sys.executable, "-c", CLI, *command], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    return kills


def _clean_app(store: Store, tmp_path: Path) -> Generator[OutpatientPooling, None, None]:
    if store.kind == "sqlite":
        yield bootstrap(str(tmp_path / "clean.db"))
        return
    for other in fresh_postgres_database():
        yield bootstrap(other)


def test_an_ingest_killed_and_resumed_holds_the_clean_runs_events_event_for_event(app, tmp_path):
    city = tmp_path / "city.jsonl"
    write_city(CitySpec(members=80, hospitals=3, pharmacies=1, months=3, seed=5), city)
    clean_source = _clean_app(app.store, tmp_path)
    clean = next(clean_source)
    try:
        assert ingest_file(clean, str(city)).refused == 0
        _killed_at_random(random.Random(5), "--db", app.store.url, "ingest", "--quiet", str(city))
        again = ingest_file(app, str(city))
        assert again.refused == 0
        assert _streams(app) == _streams(clean)
        assert _tables(app) == _tables(clean)
        assert audit(app).ok
    finally:
        clean.close()
        clean_source.close()


def test_a_rebuild_killed_part_way_is_resumed_by_the_next_catch_up_and_equals_a_clean_rebuild(app, tmp_path):
    city = tmp_path / "city.jsonl"
    write_city(CitySpec(members=120, hospitals=3, pharmacies=1, months=4, seed=6), city)
    assert ingest_file(app, str(city)).refused == 0
    before = _tables(app)

    _killed_at_random(random.Random(6), "--db", app.store.url, "rebuild", "--quiet")
    app.read_models.setup()
    assert _tables(app) == before  # the catch-up took each view on from where the kill left it
    app.read_models.rebuild()
    assert _tables(app) == before
    assert audit(app).ok
