"""Write a deterministic synthetic city (``ledger.demo.city``) as a JSONL file of exchange messages.

    python scripts/generate_city.py --admdvs 410200 --members 200 --out city.jsonl
    python scripts/generate_city.py --admdvs 410800 --year 2024 --start-month 8 --months 5 --out jz.jsonl
    ledger --db /tmp/city.db ingest city.jsonl

The same options always write the same bytes. A year is planned before it is written, spilled
to a temporary folder by day past 50,000 records, so memory grows with the members (about 350
bytes each), not with their messages; the peak is printed.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.demo.city import CitySpec, write_city  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = CitySpec()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admdvs", default=defaults.admdvs,
                        help="Region: 411500 Xinyang, 410200 Kaifeng, 410800 Jiaozuo, 140200 Datong.")
    parser.add_argument("--members", type=int, default=defaults.members)
    parser.add_argument("--hospitals", type=int, default=defaults.hospitals)
    parser.add_argument("--pharmacies", type=int, default=defaults.pharmacies)
    parser.add_argument("--year", type=int, default=defaults.year)
    parser.add_argument("--start-month", type=int, default=defaults.start_month,
                        help="First month of --year (Jiaozuo's scheme starts 2024-08).")
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--visits", type=float, default=defaults.visits_per_member_month,
                        help="Visits per member and month, on average.")
    parser.add_argument("--out", required=True, type=Path, help="The JSONL file to write.")
    parser.add_argument("--summary", action="store_true", help="Also print the count of each message type.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec = CitySpec(admdvs=args.admdvs, members=args.members, hospitals=args.hospitals,
                        pharmacies=args.pharmacies, year=args.year, start_month=args.start_month,
                        months=args.months, seed=args.seed, visits_per_member_month=args.visits)
        started = time.perf_counter()
        lines = write_city(spec, args.out)
    except ValueError as e:
        print(f"generate_city: {e}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    first, last = spec.periods()[0].key, spec.periods()[-1].key
    print(f"{args.out}: {lines} messages for region {spec.admdvs}, {first}..{last}, {spec.members} members, "
          f"{spec.hospitals} hospitals, {spec.pharmacies} pharmacies, seed {spec.seed} "
          f"({elapsed:.1f}s, {lines / max(elapsed, 1e-9):,.0f} messages/s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)")
    if args.summary:
        counts = Counter(line.split('"', 4)[3] for line in args.out.open(encoding="utf-8"))
        for type_, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:>9}  {type_}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
