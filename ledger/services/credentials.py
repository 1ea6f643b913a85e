"""Who may call the online service: credentials issued by the bureau, and the gateway's signature.

A caller is a ``Principal``: its ``paasid`` (an institution's is its ``fixmedins_code``) and
its role. Each request is signed the national platform's way: ``x-tif-signature`` is the
lowercase hex SHA-256 of ``timestamp + secret + nonce + timestamp``, over the caller's
``x-tif-timestamp`` (Unix seconds) and ``x-tif-nonce``. A timestamp more than
``SIGNATURE_WINDOW`` seconds off, or a nonce seen before from the same caller, is refused.

The secret is stored as issued, not hashed. The signature is a shared-secret scheme: to
recompute it the service must hold the secret itself, and a hash of the secret would not let
it. The table is read only by the service (on PostgreSQL, grant it to the service's role
alone); a secret is printed once when issued and never shown again, and revoking a
credential stops it at once. Comparisons are constant-time.

A worker process keeps the live credentials it has read in memory, so checking a signature
costs no query; revocation still stops a credential at once, in every process: the nonce is
recorded only while the secret that signed the request is live, in the same statement, and a
credential no longer live is refused and forgotten there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, get_args

from sqlalchemy import and_, bindparam, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.adapters.service_tables import create_service_tables, credentials, nonces
from ledger.errors import InputError
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Connection, Engine

    from ledger.services.application import OutpatientPooling

Role = Literal["institution", "operator", "regulator"]
ROLES: tuple[str, ...] = get_args(Role)
SIGNATURE_WINDOW = 300
"""Seconds a signed request's timestamp may be off the service's clock, either way (the gateway's rule)."""
HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
REFUSED_SIGNATURE = "the signature does not match (unknown or revoked paasid, or wrong secret)"

_c = credentials.c
REMEMBER = insert(nonces).from_select(
    ["paasid", "nonce", "seen_at"],
    select(bindparam("paasid"), bindparam("nonce"), bindparam("seen_at")).where(exists().where(and_(
        _c.paasid == bindparam("paasid"), _c.secret == bindparam("secret"), _c.revoked_at.is_(None)))),
).returning(nonces.c.nonce)
"""A nonce recorded only while the secret that signed its request is live (built once: it runs per request)."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    paasid: str
    role: Role


@dataclass(frozen=True)
class Signed:
    """A request whose signature checks out; its nonce is yet to be recorded (:meth:`Credentials.admit`)."""

    principal: Principal
    secret: str
    nonce: str
    clock: int


class AuthError(InputError):
    """Raised when a request's credentials or signature are refused."""

    def __init__(self, reason: str, code: RefusalCode) -> None:
        super().__init__("x-tif-signature", reason, code=code)


def signature(timestamp: str, secret: str, nonce: str) -> str:
    """The gateway's signature: lowercase hex SHA-256 of timestamp + secret + nonce + timestamp."""
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def signed_headers(paasid: str, secret: str, *, now: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four headers a client sends (``scripts/sign.py``, the tests and the benchmark use it)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {"x-tif-paasid": paasid, "x-tif-timestamp": timestamp, "x-tif-nonce": nonce,
            "x-tif-signature": signature(timestamp, secret, nonce)}


class Credentials:
    """The credentials table and the signature check, on the ledger's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[str, tuple[Principal, str]] = {}
        """The live credentials read so far, by paasid; each use confirms the secret still live."""

    @classmethod
    def of(cls, ledger: OutpatientPooling) -> Credentials:
        """The credentials kept in ``ledger``'s database (the tables are made on first use)."""
        create_service_tables(ledger.store, ledger.engine)
        return cls(ledger.engine)

    def issue(self, paasid: str, role: str) -> str:
        """Issue (or replace) ``paasid``'s credential; returns the secret, to be shown once."""
        if role not in ROLES:
            raise InputError("role", f"{role!r} is not a role (one of {', '.join(ROLES)})", code=RefusalCode.BAD_ROLE)
        if not paasid or len(paasid) > 64:
            raise InputError("paasid", "a paasid is 1 to 64 characters", code=RefusalCode.BAD_PAASID)
        secret = secrets.token_hex(24)
        row = {"role": role, "secret": secret, "issued_at": _now(), "revoked_at": None}
        with self.engine.begin() as conn:
            if conn.execute(update(credentials).where(credentials.c.paasid == paasid).values(**row)).rowcount == 0:
                conn.execute(insert(credentials).values(paasid=paasid, **row))
        self._known.pop(paasid, None)
        return secret

    def revoke(self, paasid: str) -> None:
        """Stop ``paasid``'s credential; its requests are refused from now on."""
        with self.engine.begin() as conn:
            done = conn.execute(update(credentials).where(credentials.c.paasid == paasid,
                                                          credentials.c.revoked_at.is_(None))
                                .values(revoked_at=_now())).rowcount
        self._known.pop(paasid, None)
        if not done:
            raise InputError("paasid", f"no live credential for {paasid}", code=RefusalCode.UNKNOWN_PAASID)

    def _live(self, paasid: str) -> tuple[Principal, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(credentials.c.role, credentials.c.secret)
                               .where(credentials.c.paasid == paasid, credentials.c.revoked_at.is_(None))).first()
        return None if row is None else (Principal(paasid, row.role), row.secret)

    def principal(self, paasid: str) -> Principal | None:
        """The caller holding a live credential ``paasid``, if any."""
        found = self._live(paasid)
        return None if found is None else found[0]

    def check_secret(self, paasid: str, secret: str) -> Principal | None:
        """The caller if ``secret`` is ``paasid``'s live secret (a login form's check), else None."""
        found = self._live(paasid)
        if found is None or not hmac.compare_digest(found[1].encode(), secret.encode()):
            return None
        return found[0]

    def verify(self, headers: Mapping[str, str], *, now: int | None = None) -> Signed:
        """A request's signature checked, or :class:`AuthError` (bad or stale); :meth:`admit` records its nonce."""
        paasid, timestamp, nonce, signed = (headers.get(name, "") for name in HEADERS)
        if not (paasid and timestamp and nonce and signed):
            missing = ", ".join(name for name in HEADERS if not headers.get(name))
            raise AuthError(f"missing {missing}", RefusalCode.UNSIGNED)
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise AuthError("x-tif-timestamp must be Unix seconds", RefusalCode.BAD_TIMESTAMP)
        clock = int(time.time() if now is None else now)
        if abs(clock - int(timestamp)) > SIGNATURE_WINDOW:
            raise AuthError(f"x-tif-timestamp is more than {SIGNATURE_WINDOW} s off the service's clock",
                            RefusalCode.STALE_TIMESTAMP)
        if len(nonce) > 128:
            raise AuthError("x-tif-nonce is longer than 128 characters", RefusalCode.BAD_NONCE)
        found = self._known.get(paasid)
        if found is None or not self._signs(found, timestamp, nonce, signed):
            found = self._live(paasid)  # not read yet, or issued anew since
            if found is None or not self._signs(found, timestamp, nonce, signed):
                raise AuthError(REFUSED_SIGNATURE, RefusalCode.BAD_SIGNATURE)
            self._known[paasid] = found
        return Signed(found[0], found[1], nonce, clock)

    @staticmethod
    def _signs(found: tuple[Principal, str], timestamp: str, nonce: str, signed: str) -> bool:
        return hmac.compare_digest(signature(timestamp, found[1], nonce), signed.lower())

    def admit(self, signed: Signed, conn: Connection) -> Principal:
        """The caller, once its nonce is recorded through ``conn`` while its secret is still live.

        A nonce seen within the window is a replay; a credential revoked (or issued anew) since
        it was read is refused and forgotten. Older nonces are forgotten now and then.
        """
        paasid = signed.principal.paasid
        try:
            recorded = conn.execute(REMEMBER, {"paasid": paasid, "nonce": signed.nonce, "seen_at": signed.clock,
                                               "secret": signed.secret}).first() is not None
        except IntegrityError:
            raise AuthError("x-tif-nonce was already used (a replayed request)", RefusalCode.REPLAYED_NONCE) from None
        if not recorded:
            self._known.pop(paasid, None)
            raise AuthError(REFUSED_SIGNATURE, RefusalCode.BAD_SIGNATURE)
        if secrets.randbelow(100) == 0:
            conn.execute(delete(nonces).where(nonces.c.seen_at < signed.clock - 2 * SIGNATURE_WINDOW))
        return signed.principal


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
