#!/usr/bin/env python3
"""The long run of the seeded simulation (tests/simulation): many seeds, many steps, on SQLite files.

    scripts/simulate.py --seeds 20 --steps 200          # seeds 1..20
    scripts/simulate.py --seed 17 --steps 200           # replay one seed that failed

Prints each seed as it ends, then the figures docs/reliability.md records: seeds, messages,
crashes injected, invariant checks, failures. Exits 1 if any seed failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.simulation.driver import Figures, SimulationFailure, run_seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="How many seeds, from --first-seed.")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--seed", type=int, help="Run this one seed only (a replay).")
    parser.add_argument("--steps", type=int, default=60, help="Random steps (messages, roughly) a seed.")
    parser.add_argument("--writers", type=int, default=3, help="Writer processes at once.")
    parser.add_argument("--kills", type=int, default=2, help="Writers killed (SIGKILL) and resumed a seed, at most.")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else range(args.first_seed, args.first_seed + args.seeds)
    figures = Figures()
    started = time.perf_counter()
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix=f"ledger-sim-{seed}-") as folder:
            where = Path(folder)
            try:
                run_seed(seed, str(where / "ledger.db"), str(where / "clean.db"), where, steps=args.steps,
                         writers=args.writers, kills=args.kills, figures=figures)
                print(f"seed {seed}: ok", flush=True)
            except SimulationFailure as e:
                print(f"seed {seed}: FAILED: {e}", flush=True)
    print(f"seeds {figures.seeds}, steps {args.steps} a seed, messages {figures.messages}, "
          f"crashes injected {figures.crashes}, invariant checks {figures.invariant_checks}, "
          f"failures {len(figures.failures)} ({time.perf_counter() - started:.0f} s)")
    for failure in figures.failures:
        print(f"  {failure}")
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
