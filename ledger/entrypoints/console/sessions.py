"""Console sessions: a signed, expiring cookie naming the signed-in principal, and its CSRF token.

The cookie holds the principal's paasid and role, when the session ends and a random nonce,
signed with HMAC-SHA256 under a key the server holds; nothing is kept server side, so a
changed or expired cookie is simply no session. The CSRF token of a form is an HMAC of the
session's nonce under the same key: a page can only show it to the session it belongs to. The
sign-in form, which has no session yet, takes its token from a nonce in a cookie of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

COOKIE = "ledger_console"
SIGNIN_COOKIE = "ledger_console_signin"
"""A nonce the sign-in form's CSRF token is made from, so a sign-in cannot be forged from another site."""
LIFETIME = 8 * 3600
"""Seconds a sign-in lasts: a working day."""


@dataclass(frozen=True)
class Session:
    """Who is signed in, until when, and the nonce the CSRF token is made from."""

    paasid: str
    role: str
    expires: int
    nonce: str

    @property
    def fixmedins_code(self) -> str | None:
        """An institution's own code (its paasid); None for the bureau's roles."""
        return self.paasid if self.role == "institution" else None

    @property
    def sees_everything(self) -> bool:
        """Operators and regulators see every region, institution and member."""
        return self.role in ("operator", "regulator")

    @property
    def may_change(self) -> bool:
        """Only an operator changes the ledger from the console."""
        return self.role == "operator"


class Signer:
    """Issues and reads session cookies under one key."""

    def __init__(self, key: bytes, *, lifetime: int = LIFETIME, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.lifetime = lifetime
        self.clock = clock

    def _mac(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, data, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, paasid: str, role: str) -> tuple[Session, str]:
        """A new session for a principal and its cookie value."""
        session = Session(paasid, role, int(self.clock()) + self.lifetime, secrets.token_urlsafe(16))
        body = base64.urlsafe_b64encode(json.dumps(asdict(session), separators=(",", ":")).encode()).decode()
        return session, f"{body}.{self._mac(body.encode())}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None if it is missing, altered or expired."""
        if not cookie or "." not in cookie:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            session = Session(**json.loads(base64.urlsafe_b64decode(body.encode())))
        except (ValueError, TypeError):
            return None
        return session if session.expires > self.clock() else None

    def csrf(self, session: Session) -> str:
        """The CSRF token of the session's forms."""
        return self._mac(f"csrf|{session.nonce}".encode())

    def check_csrf(self, session: Session, token: str | None) -> bool:
        """Whether a form's token belongs to this session."""
        return bool(token) and hmac.compare_digest(token or "", self.csrf(session))

    def signin_csrf(self, nonce: str) -> str:
        """The sign-in form's CSRF token, made from the nonce in its own cookie."""
        return self._mac(f"signin|{nonce}".encode())

    def check_signin_csrf(self, nonce: str | None, token: str | None) -> bool:
        """Whether the sign-in form's token belongs to the browser that asked for the form."""
        return bool(nonce) and bool(token) and hmac.compare_digest(token or "", self.signin_csrf(nonce or ""))
