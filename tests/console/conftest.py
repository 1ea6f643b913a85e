"""A demo city (``ledger demo``) booked once per module, and the service serving its console.

The server is uvicorn on 127.0.0.1 on a free port, in a thread, as the service's own tests
run it; credentials are issued through the service's credentials table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from ledger.entrypoints.console.sessions import COOKIE, SIGNIN_COOKIE
from ledger.entrypoints.http import create_app
from tests.cli.conftest import make_runner
from tests.exchange.stores import BOTH, open_store
from tests.service.conftest import serving

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from click.testing import Result
    from fastapi import FastAPI

    from ledger.adapters.store import Store

ADMDVS, YEAR = "410200", 2025
JIAOZUO = "410800"
JIAOZUO_YEAR = 2024
"""Jiaozuo's scheme starts in August 2024, and its baselines are set for 2024 alone (四（一）)."""
OWN, OTHER = "H410200001", "H410200002"
USERS = {"bureau-op": "operator", "regulator-1": "regulator", OWN: "institution", OTHER: "institution"}


def _demo(kind: str, tmp_path_factory: pytest.TempPathFactory, *options: str) -> Iterator[Store]:
    for store in open_store(kind, tmp_path_factory):
        folder = tmp_path_factory.mktemp("demo")
        result = make_runner(store.url)("demo", "--dir", str(folder), *options)
        assert result.exit_code == 0, result.stdout + result.stderr
        yield store


@pytest.fixture(scope="module", params=BOTH)
def demo_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store holding the demo city's year, closed and cleared (SQLite and PostgreSQL)."""
    yield from _demo(request.param, tmp_path_factory)


@pytest.fixture(scope="module", params=BOTH)
def jiaozuo_demo_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo city in Jiaozuo (焦作市), whose institutions are cleared fee-for-service within a cost ceiling."""
    yield from _demo(request.param, tmp_path_factory, "--admdvs", JIAOZUO, "--year", str(JIAOZUO_YEAR),
                     "--from-month", "8")


@pytest.fixture(scope="module")
def sqlite_demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo city on SQLite only (the browser tests, kept short)."""
    yield from _demo("sqlite", tmp_path_factory)


@pytest.fixture(scope="module")
def cli(demo_store: Store) -> Callable[..., Result]:
    """``ledger --db DEMO …`` run in process."""
    return make_runner(demo_store.url)


@dataclass
class Console:
    """A running service with its console: URL, app, and each user's secret."""

    url: str
    app: FastAPI
    secrets: dict[str, str]
    http: httpx.Client

    def signin(self, paasid: str, secret: str) -> httpx.Response:
        """Post the sign-in form as a browser would: with the form's CSRF token and its cookie."""
        form = self.http.get("/console/signin")
        nonce = form.cookies[SIGNIN_COOKIE]
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, "the sign-in form has no CSRF token"
        return self.http.post("/console/signin", data={"paasid": paasid, "secret": secret, "csrf": token.group(1)},
                              headers={"cookie": f"{SIGNIN_COOKIE}={nonce}"})

    def cookie(self, paasid: str) -> str:
        """Sign in through the form; the session cookie's value."""
        response = self.signin(paasid, self.secrets[paasid])
        assert response.status_code == 303, response.text
        return response.cookies[COOKIE]

    def as_user(self, paasid: str) -> httpx.Client:
        """A client holding ``paasid``'s session (sent by hand: the cookie is Secure, and this is plain HTTP)."""
        return httpx.Client(base_url=self.url, timeout=60, headers={"cookie": f"{COOKIE}={self.cookie(paasid)}"})


def serve(store: Store) -> Iterator[Console]:
    """The service on ``store`` in a thread until the module ends."""
    app = create_app(store.url, follow_interval=timedelta(milliseconds=50))
    secrets = {paasid: app.state.credentials.issue(paasid, role) for paasid, role in USERS.items()}
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield Console(url, app, secrets, http)


@pytest.fixture(scope="module")
def console(demo_store: Store) -> Iterator[Console]:
    """The console over the demo city."""
    yield from serve(demo_store)
