"""Print the gateway's signed headers for a paasid and its secret, as a curl config for ``curl -K -``.

    python scripts/sign.py H001 "$SECRET" | curl -s -K - -H 'content-type: application/json' \\
        -d @2207.json http://127.0.0.1:8080/fsi/api/rsfComIfsService/callService

Each run makes a fresh nonce and timestamp (valid for 300 s, once). ``--json`` prints the
headers as a JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.services.credentials import signed_headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paasid")
    parser.add_argument("secret")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    args = parser.parse_args()
    headers = signed_headers(args.paasid, args.secret)
    if args.json:
        print(json.dumps(headers))
    else:
        for name, value in headers.items():
            print(f'header = "{name}: {value}"')


if __name__ == "__main__":
    main()
