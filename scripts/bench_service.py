"""The online service's throughput and latency beside the CLI's booking rate, for the same claims.

    python scripts/bench_service.py --claims 400 --clients 4
    python scripts/bench_service.py --db postgresql://postgres@127.0.0.1:5432/postgres --workers 2

A region of hospitals and members is booked first. Each claim is then settled at the counter
over HTTP: 2201 registers the visit, 2204 uploads its lines, 2207 settles them, each request
signed, from ``--clients`` concurrent clients on 127.0.0.1 against ``ledger serve`` with
``--workers`` processes. The same claims, as exchange messages, are booked by the CLI's ingest
(``ledger ingest``'s code, in process so the interpreter's start is not counted) into another
fresh database. Printed: settlements/s of both and their ratio; p50/p99 of 2207
and of every request at full load; then p50/p99 with one client pacing claims at half the
peak rate. Counts and time are bounded (``--claims``, ``--seconds``).

The ceiling of the HTTP stack is measured in the same run: the same clients send the same
signed requests to a bare FastAPI app on uvicorn (``bare_app``: the same endpoint, one worker;
it parses the JSON body, checks the signature headers against secrets held in memory, and
returns a fixed small answer). No service over three requests per settlement on this stack and
machine can settle faster than that.
"""

from __future__ import annotations

import argparse
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import discard, fresh_db  # noqa: E402

from ledger.exchange.messages import validate_message  # noqa: E402
from ledger.money import round_fen  # noqa: E402
from ledger.services.bootstrap import bootstrap  # noqa: E402
from ledger.services.credentials import (  # noqa: E402
    HEADERS,
    SIGNATURE_WINDOW,
    Credentials,
    signature,
    signed_headers,
)
from ledger.services.ingest import ingest_file  # noqa: E402

CALL = "/fsi/api/rsfComIfsService/callService"
BARE_SECRETS = "BENCH_BARE_SECRETS"
"""The environment variable handing the bare app its callers' secrets (JSON)."""
BARE_ANSWER = b'{"infcode":0,"err_msg":null,"output":{"data":{"mdtrt_id":"0"},"result":[]}}'
BARE_REFUSED = b'{"infcode":-1,"err_msg":"bad signature or body","output":null}'
ADMDVS = "411500"
HOSPITALS = 8


def setup_messages(members: int, day: str) -> list[dict]:
    facts = [{"type": "institution.registered", "date": "2024-01-01", "fixmedins_code": f"H{h}", "admdvs": ADMDVS,
              "kind": "hospital", "level": 1 + h % 3, "pooling_designated": True} for h in range(HOSPITALS)]
    facts += [{"type": "member.enrolled", "date": "2024-01-01", "psn_no": f"M{m}", "admdvs": ADMDVS,
               "psn_type": "11" if m % 4 else "12", "contribution_base": "6000.00"} for m in range(members)]
    return facts


def claims(count: int) -> list[dict]:
    """Claim i: member i, hospital i mod 8, two lines."""
    return [{"psn_no": f"M{i}", "hospital": f"H{i % HOSPITALS}",
             "lines": [("1", "XJ01", "2", f"{20 + i % 50}.50", "01"), ("2", "XJ02", "1", f"{60 + i % 90}.00", "02")]}
            for i in range(count)]


def as_message(i: int, claim: dict, day: str) -> dict:
    return {"type": "visit.settled", "date": day, "medins_setl_id": f"S{i}", "mdtrt_id": f"V{i}",
            "psn_no": claim["psn_no"], "fixmedins_code": claim["hospital"],
            "items": [{"feedetl_sn": sn, "med_list_codg": code, "cnt": cnt, "pric": pric, "chrgitm_lv": lv}
                      for sn, code, cnt, pric, lv in claim["lines"]]}


def cli_rate(base: str, workdir: Path, setup: list[dict], work: list[dict], day: str) -> float:
    """Settlements/s of the CLI's ingest (``ledger ingest``'s code, in process) booking the same claims."""
    db = fresh_db(base, workdir, "cli")
    ledger = bootstrap(db)
    try:
        ledger.book([validate_message(m) for m in setup])
        path = workdir / "claims.jsonl"
        path.write_text("".join(json.dumps(as_message(i, c, day)) + "\n" for i, c in enumerate(work)))
        started = time.perf_counter()
        report = ingest_file(ledger, str(path))
        elapsed = time.perf_counter() - started
        assert not report.refused, report.summary()
        return len(work) / elapsed
    finally:
        ledger.close()
        discard(base, db)


class Client:
    """One kept-alive client connection, signing for whichever hospital's counter a claim is at; records latencies.

    It speaks HTTP/1.1 through the standard library's ``http.client``: httpx, which the tests
    use, spent 0.4–0.5 ms of its own on each request here and widened the tail by more
    (docs/benchmarks.md), and a counter's latency is the service's, not this client's.
    """

    def __init__(self, url: str, secrets: dict[str, str], name: str) -> None:
        where = urlsplit(url)
        self.http = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
        self.secrets = secrets
        self.name = name
        self.latencies: dict[str, list[float]] = {}
        self.seq = 0

    def call(self, paasid: str, infno: str, input_: dict) -> dict:
        self.seq += 1
        body = json.dumps({"infno": infno, "msgid": f"{paasid}-{self.name}-{self.seq}",
                           "fixmedins_code": paasid, "opter": "bench", "input": input_})
        started = time.perf_counter()
        self.http.request("POST", CALL, body=body, headers={"content-type": "application/json",
                                                            **signed_headers(paasid, self.secrets[paasid])})
        response = self.http.getresponse().read()
        self.latencies.setdefault(infno, []).append(time.perf_counter() - started)
        answer = json.loads(response)
        if answer["infcode"] != 0:
            raise RuntimeError(f"{infno}: {answer['err_msg']}")
        return answer["output"]

    def settle(self, claim: dict, day: str) -> None:
        """2201, 2204, 2207 for one claim."""
        at, psn_no = claim["hospital"], claim["psn_no"]
        mdtrt_id = self.call(at, "2201", {"data": {"psn_no": psn_no, "begntime": day}})["data"]["mdtrt_id"]
        lines = [{"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_list_codg": code, "cnt": cnt,
                  "pric": pric, "chrgitm_lv": lv, "det_item_fee_sumamt": str(round_fen(Decimal(cnt) * Decimal(pric)))}
                 for sn, code, cnt, pric, lv in claim["lines"]]
        uploaded = self.call(at, "2204", {"feedetail": lines})["result"]
        medfee = sum(Decimal(r["det_item_fee_sumamt"]) for r in uploaded)
        self.call(at, "2207", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "chrg_bchno": "1",
                                        "medfee_sumamt": str(medfee), "med_type": "11"}})


COUNTER_WARM_UP = 20
"""Requests not counted before the counter's queries are timed: a server runs for months, its first
requests (imports, policy files) are not what a counter waits for."""


def counter_latencies(db: str, counter: str, psn_nos: list[str], cum_ym: str, port: int) -> dict[str, list[float]]:
    """1101 (the person and the account) and 5206 (the year's cap used through ``cum_ym``) for each of ``psn_nos``.

    Asked over HTTP from one client to ``ledger serve`` (one worker) on ``db``, as the
    institution ``counter`` asks them; then the same requests to ``bare_app``, the HTTP stack
    alone on this machine at this moment (``bare 1101``, ``bare 5206``). The latencies in
    seconds, by name.
    """
    app = bootstrap(db)
    try:
        secrets = {counter: Credentials.of(app).issue(counter, "institution")}
    finally:
        app.close()
    ledger_cli = str(Path(sys.executable).parent / "ledger")
    bare = {BARE_SECRETS: json.dumps(secrets)}
    servers = {"": ([ledger_cli, "--db", db, "serve", "--port", str(port), "--workers", "1"], None),
               "bare ": ([sys.executable, __file__, "--bare", "--port", str(port)], bare)}
    latencies: dict[str, list[float]] = {}
    for label, (command, env) in servers.items():
        process = serve(command, port, env)
        try:
            client = Client(f"http://127.0.0.1:{port}", secrets, f"q{os.getpid()}")  # msgids new to a kept store

            def ask(psn_no: str, client: Client = client) -> None:
                client.call(counter, "1101", {"data": {"psn_no": psn_no}})
                client.call(counter, "5206", {"data": {"psn_no": psn_no, "cum_ym": cum_ym}})

            for _ in range(COUNTER_WARM_UP):
                ask(psn_nos[0])
            client.latencies.clear()
            for psn_no in psn_nos:
                ask(psn_no)
            latencies.update({label + infno: client.latencies[infno] for infno in ("1101", "5206")})
        finally:
            process.terminate()
            process.wait(timeout=60)
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run_clients(url: str, secrets: dict[str, str], work: list[dict], clients: int, day: str, seconds: float,
                pace: float | None = None) -> tuple[int, float, list[Client]]:
    """Settle ``work`` from ``clients`` threads (or one paced thread); returns settled, seconds, the clients."""
    pool = [Client(url, secrets, f"c{n}{'p' if pace else ''}") for n in range(clients)]
    done = [0] * clients
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    def worker(n: int) -> None:
        for k, claim in enumerate(work[n::clients]):
            if time.perf_counter() > deadline:
                return
            if pace:
                time.sleep(max(0.0, started + k / pace - time.perf_counter()))
            pool[n].settle(claim, day)
            done[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done), time.perf_counter() - started, pool


def report(label: str, pool: list[Client]) -> str:
    settle = [x for c in pool for x in c.latencies.get("2207", [])]
    every = [x for c in pool for xs in c.latencies.values() for x in xs]
    return (f"{label}: 2207 p50 {percentile(settle, 0.5):.1f} ms, p99 {percentile(settle, 0.99):.1f} ms; "
            f"every request p50 {percentile(every, 0.5):.1f} ms, p99 {percentile(every, 0.99):.1f} ms "
            f"({len(every)} requests)")


def bare_app(secrets: dict[str, str]) -> FastAPI:
    """The HTTP stack alone: parse the body, check the signature and nonce in memory, answer a fixed body."""
    app = FastAPI()
    seen: set[tuple[str, str]] = set()

    @app.post(CALL)
    async def call(request: Request) -> Response:
        raw = json.loads(await request.body(), parse_float=Decimal)
        paasid, timestamp, nonce, signed = (request.headers.get(name, "") for name in HEADERS)
        secret = secrets.get(paasid)
        good = (secret is not None and timestamp.isdigit() and abs(time.time() - int(timestamp)) <= SIGNATURE_WINDOW
                and hmac.compare_digest(signature(timestamp, secret, nonce), signed)
                and (paasid, nonce) not in seen and isinstance(raw.get("input"), dict))
        seen.add((paasid, nonce))
        return Response(BARE_ANSWER if good else BARE_REFUSED, media_type="application/json")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(command: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server process and wait until its ``/health`` answers."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=None if env is None else {**os.environ, **env})
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the service did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="", help="a PostgreSQL server URL (default: SQLite files in a temp dir)")
    parser.add_argument("--claims", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60, help="a phase stops after this long")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # serve bare_app (a subprocess)
    args = parser.parse_args()
    if args.bare:
        uvicorn.run(bare_app(json.loads(os.environ[BARE_SECRETS])), host="127.0.0.1", port=args.port)
        return
    day = date.today().isoformat()
    members = 2 * args.claims
    setup = setup_messages(members, day)
    work = claims(2 * args.claims)
    peak, paced = work[: args.claims], work[args.claims:]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = args.db or str(workdir / "base.db")
        cli = cli_rate(base, workdir, setup, peak, day)
        db = fresh_db(base, workdir, "service")
        ledger = bootstrap(db)
        try:
            ledger.book([validate_message(m) for m in setup])
            credentials = Credentials.of(ledger)
            secrets = {f"H{h}": credentials.issue(f"H{h}", "institution") for h in range(HOSPITALS)}
        finally:
            ledger.close()
        os.environ.pop("LEDGER_DB", None)
        url = f"http://127.0.0.1:{args.port}"
        ledger_cli = str(Path(sys.executable).parent / "ledger")
        process = serve([ledger_cli, "--db", db, "serve", "--port", str(args.port), "--workers", str(args.workers)],
                        args.port)
        try:
            settled, elapsed, pool = run_clients(url, secrets, peak, args.clients, day, args.seconds)
            rate = settled / elapsed
            print(f"store {'postgresql' if args.db else 'sqlite'}, {args.workers} worker(s), {args.clients} clients")
            print(f"CLI ingest: {cli:.0f} settlements/s")
            print(f"service:    {rate:.0f} settlements/s ({settled} in {elapsed:.1f} s), "
                  f"{rate / cli:.0%} of the CLI's rate")
            print(report("  at full load", pool))
            settled, elapsed, pool = run_clients(url, secrets, paced, 1, day, args.seconds, pace=rate / 2)
            print(f"  paced at {rate / 2:.0f} settlements/s (half the peak): {settled / elapsed:.0f} settled/s")
            print(report("  at half the peak", pool))
        finally:
            process.terminate()
            process.wait(timeout=60)
            discard(base, db)
        process = serve([sys.executable, __file__, "--bare", "--port", str(args.port)], args.port,
                        {BARE_SECRETS: json.dumps(secrets)})
        try:
            settled, elapsed, pool = run_clients(url, secrets, peak, args.clients, day, args.seconds)
        finally:
            process.terminate()
            process.wait(timeout=60)
        ceiling = settled / elapsed
        print(f"HTTP ceiling (bare FastAPI on uvicorn, 1 worker, same signed requests): {ceiling:.0f} settlements/s "
              f"({3 * ceiling:.0f} requests/s), {ceiling / cli:.0%} of the CLI's rate; "
              f"the service is {rate / ceiling:.0%} of it")
        print(report("  bare at full load", pool))


if __name__ == "__main__":
    main()
