"""The seeded simulation, bounded for CI: a few seeds of several writers with crashes, on both stores.

A failing seed names itself and the command that replays it (``scripts/simulate.py --seed N``);
``scripts/simulate.py --seeds N --steps M`` runs it long (figures in docs/reliability.md).
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import fresh_postgres_database
from tests.simulation.driver import run_seed

SEEDS = [int(s) for s in os.environ.get("LEDGER_SIM_SEEDS", "11,12").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_simulated_writers_with_crashes_keep_every_invariant_and_match_the_reference_sqlite(seed, tmp_path):
    figures = run_seed(seed, str(tmp_path / "ledger.db"), str(tmp_path / "clean.db"), tmp_path)
    assert figures.crashes >= 1
    assert figures.failures == []


@pytest.mark.postgres
def test_simulated_writers_with_crashes_keep_every_invariant_and_match_the_reference_postgres(postgres_store,
                                                                                             tmp_path):
    clean = fresh_postgres_database()
    try:
        figures = run_seed(SEEDS[0], postgres_store.url, next(clean).url, tmp_path)
    finally:
        clean.close()
    assert figures.failures == []
