"""An ingest killed at random points (SIGKILL) and run again books every message exactly once.

Each batch is one transaction, a month close resumes where it stopped (a member is credited
for a month at most once), and the read models track their position in the same transaction
as their rows; so after the crashes the log and every read model equal those of a run that
was never interrupted.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from ledger.demo.city import CitySpec, write_city
from ledger.projections.runner import all_views
from ledger.services.application import OutpatientPooling
from ledger.services.audit import audit
from ledger.services.bootstrap import bootstrap
from ledger.services.ingest import ingest_file

if TYPE_CHECKING:
    from pathlib import Path

INGEST = "import sys; from ledger.entrypoints.cli import main; sys.exit(main())"


def _tables(app: OutpatientPooling) -> dict[str, list[tuple]]:
    """Every read model but the chain (its links hash the events' wall-clock times)."""
    app.read_models.catch_up()
    out = {}
    with app.engine.connect() as conn:
        for view in all_views():
            for table in view.tables:
                if table.name != "log_chain":
                    key = list(table.primary_key.columns)
                    out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*key))]
    return out


def _ingest_process(db: str, city: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", INGEST, "--db", db, "ingest", "--quiet", str(city)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("seed", [1, 2])
def test_an_ingest_killed_at_random_points_and_run_again_books_everything_once(tmp_path, seed):
    city = tmp_path / "city.jsonl"
    write_city(CitySpec(admdvs="410200", members=400, hospitals=4, pharmacies=2, months=6, seed=seed), city)

    reference = bootstrap(str(tmp_path / "reference.db"))
    assert ingest_file(reference, str(city)).refused == 0

    crashed_db = str(tmp_path / "crashed.db")
    rng = random.Random(seed)
    kills = 0
    for _ in range(4):
        process = _ingest_process(crashed_db, city)
        time.sleep(rng.uniform(0.6, 3.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    final = _ingest_process(crashed_db, city)
    assert final.wait() in (0, 1)
    assert kills, "every run finished before it could be killed: make the city larger"

    crashed = bootstrap(crashed_db)
    again = ingest_file(crashed, str(city))
    assert again.booked == 0 and again.refused == 0
    assert crashed.recorder.max_notification_id() == reference.recorder.max_notification_id()
    assert _tables(crashed) == _tables(reference)
    crashed.read_models.rebuild()
    assert _tables(crashed) == _tables(reference)
    assert audit(crashed).ok
    crashed.close()
    reference.close()
