"""The online settlement service over HTTP: parse, authenticate, dispatch; nothing more.

One endpoint, the national platform's ``POST /fsi/api/rsfComIfsService/callService``, takes
the request envelope; the transactions live in ``ledger.services.platform``. Every answer is
HTTP 200 with the platform's response envelope: ``infcode`` 0, or -1 with ``err_msg`` for
anything refused (a bad signature, a body too large, malformed JSON, an unknown ``infno``, a
bad field), so a counter's system reads one shape. ``GET /health`` reports the log position
and the read models' lag for a load balancer.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from ledger.adapters.service_tables import bookkeeping_engine
from ledger.entrypoints.console.router import router as console_router
from ledger.errors import InputError, LedgerError
from ledger.refusals import RefusalCode
from ledger.services import transactions as t
from ledger.services.bootstrap import bootstrap
from ledger.services.credentials import HEADERS, Credentials
from ledger.services.follower import FOLLOW_INTERVAL, Follower
from ledger.services.platform import Platform, stamp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from datetime import date

    from ledger.services.credentials import Principal

CALL_SERVICE = "/fsi/api/rsfComIfsService/callService"
MAX_BODY = 1 << 20
"""A request body's limit (1 MiB: about two thousand fee lines); a larger one is refused unread."""
INPUT_MODELS = (t.SignInInput, t.PersonQueryInput, t.RegistrationInput, t.FeeUpload, t.FeeCancelInput, t.SettleInput,
                t.ReverseInput, t.StatementInput, t.SettlementQueryInput, t.CumulativeInput, t.MessageInput)

access = logging.getLogger("ledger.access")
router = APIRouter()


def _no_constants(name: str) -> Any:
    msg = f"{name} is not a number"
    raise ValueError(msg)


def decode(body: bytes) -> dict[str, Any]:
    """The request's JSON, numbers read as Decimal (never through a float)."""
    try:
        raw = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError("-", f"not JSON: {e}", code=RefusalCode.NOT_JSON) from None
    if not isinstance(raw, dict):
        raise InputError("-", "the request must be a JSON object", code=RefusalCode.NOT_JSON)
    return raw


async def read_body(request: Request) -> bytes:
    """The body, refused past ``MAX_BODY`` without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InputError("-", f"the body is over {MAX_BODY} bytes", code=RefusalCode.BODY_TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InputError("-", f"the body is over {MAX_BODY} bytes", code=RefusalCode.BODY_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    CALL_SERVICE,
    response_model=t.ResponseEnvelope,
    summary="Call a transaction of the national platform's interface",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/RequestEnvelope"}}}},
        "parameters": [{"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                       for name in HEADERS],
    },
)
async def call_service(request: Request) -> Response:
    """Authenticate the gateway's headers, then answer the envelope's transaction (``infno``)."""
    started, received = time.perf_counter(), stamp()
    platform: Platform = request.app.state.platform
    principal: Principal | None = None
    raw: dict[str, Any] = {}
    credentials: Credentials = request.app.state.credentials

    def authenticated_call(body: bytes) -> bytes:
        """In one worker thread: who calls, then the answer (a thread hop costs as much as a query)."""
        nonlocal principal, raw
        signed = credentials.verify(request.headers)
        principal = signed.principal
        try:
            raw = decode(body)
        except InputError as e:
            return platform.refuse(signed, e)
        return platform.call(signed, raw)

    try:
        answer = await run_in_threadpool(authenticated_call, await read_body(request))
    except LedgerError as e:
        answer = platform.answer(received, None, error=e)
    except Exception:  # a fault of ours or of the database: logged, and answered in the platform's shape
        access.exception("failed to answer msgid %s", raw.get("msgid"))
        answer = platform.answer(received, None, error=InputError(
            "-", "the service could not answer; retry under the same msgid (nothing is booked twice)",
            code=RefusalCode.INTERNAL_ERROR))
    access.info(json.dumps({"paasid": principal.paasid if principal else None, "msgid": raw.get("msgid"),
                            "infno": raw.get("infno"), "ok": answer.startswith(b'{"infcode":0'),
                            "ms": round((time.perf_counter() - started) * 1000, 2)}, default=str))
    return Response(answer, media_type="application/json")


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """For a load balancer: the log's position and how far behind the read models are."""
    return {"status": "ok", **request.app.state.follower.health()}


def create_app(db_url: str | None = None, *, today: Callable[[], date] | None = None,
               follow_interval: timedelta = FOLLOW_INTERVAL) -> FastAPI:
    """The service on the store at ``db_url`` (``LEDGER_DB`` otherwise); ``today`` fixes the date in tests."""
    ledger = bootstrap(db_url)
    books = bookkeeping_engine(ledger.store, ledger.engine)
    credentials = Credentials.of(ledger)
    follower = Follower(ledger, interval=follow_interval)
    platform = Platform(ledger, follower, credentials, books=books, today=today)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        follower.start()
        try:
            yield
        finally:
            platform.close()
            follower.stop()
            books.dispose()
            ledger.close()

    app = FastAPI(title="yibao-ledger online settlement", version="1", lifespan=lifespan,
                  description="The national medical insurance platform's interface over the claims ledger.")
    app.state.ledger = ledger
    app.state.credentials = credentials
    app.state.follower = follower
    app.state.platform = platform
    app.include_router(router)
    app.include_router(console_router, prefix="/console")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    if not access.handlers:
        access.addHandler(logging.StreamHandler())
        access.setLevel(logging.INFO)
        access.propagate = False
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the request envelope and every transaction's ``input`` as components."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema([(m, "validation") for m in (t.RequestEnvelope, *INPUT_MODELS)],
                                     ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema
