"""``ledger serve`` as an operator runs it: a process (two workers on PostgreSQL), signed calls, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ledger.services.bootstrap import bootstrap
from ledger.services.credentials import Credentials, signed_headers
from tests.service.conftest import CALL, free_port

LEDGER = str(Path(sys.executable).parent / "ledger")


@pytest.fixture
def served(store):
    ledger = bootstrap(store)
    try:
        secret = Credentials.of(ledger).issue("OPS", "operator")
    finally:
        ledger.close()
    port = free_port()
    workers = "2" if store.kind == "postgresql" else "1"
    process = subprocess.Popen([LEDGER, "--db", store.url, "serve", "--port", str(port), "--workers", workers],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
            time.sleep(0.1)
    yield url, secret, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serve_answers_a_msgid_once_across_workers_and_stops_on_sigterm(served):
    url, secret, process = served
    body = json.dumps({"infno": "8301", "msgid": "OPS-1", "opter": "op", "input": {"data": {
        "type": "institution.registered", "date": "2024-01-01", "fixmedins_code": "H9", "admdvs": "411500",
        "kind": "hospital", "level": 2, "pooling_designated": True}}})

    def send(_: int) -> bytes:
        with httpx.Client(timeout=30) as client:
            return client.post(f"{url}{CALL}", content=body, headers={
                "content-type": "application/json", **signed_headers("OPS", secret)}).content

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(8)))
    assert len(set(answers)) == 1
    assert json.loads(answers[0])["output"] == {"type": "institution.registered", "key": "H9", "outcome": "booked"}
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["status"] == "ok" and health["log_position"] >= 1
    process.send_signal(signal.SIGTERM)
    # uvicorn finishes the requests in flight, shuts the application down, then re-raises the signal.
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in process.stderr.read().decode()
