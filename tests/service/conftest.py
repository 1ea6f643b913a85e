"""A real service for the tests: uvicorn on 127.0.0.1 on a free port, in a thread, driven with httpx.

The service's date is fixed (``TODAY``), so settlements of the worked examples' visits are
settled on the visit's day; the signature's clock is the real one.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from ledger.entrypoints.http import create_app
from ledger.services.credentials import signed_headers

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

    from ledger.adapters.store import Store

CALL = "/fsi/api/rsfComIfsService/callService"
XINYANG = "411500"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 on a free port, in a thread; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Service:
    """A running service: its URL, its app (for issuing credentials) and the day it thinks it is."""

    url: str
    app: FastAPI
    today: list[date]
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def caller(self, paasid: str, role: str = "institution") -> Caller:
        secret = self.app.state.credentials.issue(paasid, role)
        return Caller(self, paasid, secret)


_msgids = count(1)


@dataclass
class Caller:
    """A signed client of the service."""

    service: Service
    paasid: str
    secret: str

    def envelope(self, infno: str, input_: dict[str, Any], *, msgid: str | None = None, **extra: Any) -> dict:
        return {"infno": infno, "msgid": msgid or f"{self.paasid}{next(_msgids):020d}", "opter": "OP7",
                "opter_name": "counter 7", "fixmedins_code": self.paasid if not extra.get("as_bureau") else "",
                "inf_time": "2024-03-20 09:00:00", "input": input_,
                **{k: v for k, v in extra.items() if k != "as_bureau"}}

    def post(self, body: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.service.http.post(CALL, content=body, headers={
            "content-type": "application/json", **(headers if headers is not None else self.headers())})

    def headers(self, **kw: Any) -> dict[str, str]:
        return signed_headers(self.paasid, self.secret, **kw)

    def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        response = self.post(json.dumps(envelope, default=str))
        assert response.status_code == 200
        return response.json()

    def call(self, infno: str, input_: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.send(self.envelope(infno, input_, **extra))

    def ok(self, infno: str, input_: dict[str, Any], **extra: Any) -> dict[str, Any]:
        answer = self.call(infno, input_, **extra)
        assert answer["infcode"] == 0, answer["err_msg"]
        return answer["output"]

    def refused(self, infno: str, input_: dict[str, Any], **extra: Any) -> str:
        answer = self.call(infno, input_, **extra)
        assert answer["infcode"] == -1, answer
        assert answer["output"] is None
        return answer["err_msg"]


@pytest.fixture
def service(store: Store) -> Iterator[Service]:
    today = [date(2024, 3, 20)]
    app = create_app(store.url, today=lambda: today[0], follow_interval=timedelta(milliseconds=50))
    with serving(app) as url:
        running = Service(url, app, today)
        try:
            yield running
        finally:
            running.http.close()


@pytest.fixture
def bureau(service: Service) -> Caller:
    return service.caller("BUREAU1", "operator")


@pytest.fixture
def city(bureau: Caller) -> None:
    """Xinyang: a level-3 hospital, a pharmacy, two members in service, booked through the operator's 8xxx."""
    for fact in (
        {"type": "institution.registered", "date": "2024-01-01", "fixmedins_code": "H3", "admdvs": XINYANG,
         "kind": "hospital", "level": 3, "pooling_designated": True},
        {"type": "institution.registered", "date": "2024-01-01", "fixmedins_code": "H2", "admdvs": XINYANG,
         "kind": "hospital", "level": 2, "pooling_designated": True},
        {"type": "institution.registered", "date": "2024-01-01", "fixmedins_code": "P1", "admdvs": XINYANG,
         "kind": "pharmacy", "pooling_designated": True},
    ):
        assert bureau.ok("8301", {"data": fact}, as_bureau=True)["outcome"] == "booked"
    for psn_no in ("M1", "M2"):
        assert bureau.ok("8201", {"data": {"type": "member.enrolled", "date": "2024-01-01", "psn_no": psn_no,
                                           "admdvs": XINYANG, "psn_type": "11", "contribution_base": 6000}},
                         as_bureau=True)["outcome"] == "booked"


def money(value: str) -> Decimal:
    return Decimal(value)
