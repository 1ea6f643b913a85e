"""Pseudonymised exports: every identifier of a person replaced by a keyed hash, the same one throughout.

A regulator replaying the ledger needs every amount, but not to know who was treated. An
export made with a key (``ledger export --pseudonymise KEYFILE``) replaces each person's
identifiers (:data:`PERSONAL_FIELDS`, and the person number inside message keys) by
``P`` and 32 hex digits of HMAC-SHA256 under the key, and a member's stream id by the id the
ledger would give the pseudonym; so one person is one pseudonym across the whole file, the
read models rebuilt from it join as the live ones do, and the audit of the file passes. Only
whoever holds the key can link a pseudonym to a person (by hashing a known number again);
without it the HMAC cannot be reversed or tried number by number, as a plain hash could be.
docs/personal-data.md says which fields are personal and who may read them.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification

from ledger.domain.ids import member_id
from ledger.services.anchor import AnchorError

PERSONAL_FIELDS = frozenset({"psn_no", "heir", "psn_name", "certno", "psn_cert_no", "mdtrt_cert_no",
                             "fingerprint"})
"""Payload fields that name or number a person (``psn_name`` and the certificate numbers are the platform's,
for messages that carry them), and a message's ``fingerprint``: a plain hash of the message, person number
included, which could be tried number by number."""
MEMBER_TOPIC = "yibao:Member."
MIN_KEY_BYTES = 16


class Pseudonymiser:
    """Rewrites stored events, in log order, with people's identifiers replaced."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            msg = f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes"
            raise AnchorError(msg)
        self._key = key
        self._members: dict[UUID, UUID] = {}
        """A member stream's id and its pseudonymised id."""
        self._known: dict[str, str] = {}
        """The person numbers enrolled so far, and their pseudonyms."""

    @classmethod
    def from_file(cls, path: str) -> Pseudonymiser:
        """The key is the file's bytes (e.g. ``head -c 32 /dev/urandom > KEYFILE``)."""
        try:
            return cls(Path(path).read_bytes().strip())
        except OSError as e:
            msg = f"{path}: cannot read the key ({e.strerror or e})"
            raise AnchorError(msg) from None

    def pseudonym(self, value: str) -> str:
        """The same text always gives the same pseudonym, under the same key."""
        return "P" + hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def rewrite(self, n: Notification) -> Notification:
        """The event with its people's identifiers replaced (others as they were)."""
        payload = orjson.loads(n.state)
        originator = n.originator_id
        if n.topic.startswith(MEMBER_TOPIC):
            stream = originator if isinstance(originator, UUID) else UUID(str(originator))
            psn_no = payload.get("psn_no")
            if stream not in self._members and isinstance(psn_no, str):
                self._members[stream] = member_id(self.pseudonym(psn_no))
                self._known[psn_no] = self.pseudonym(psn_no)
            originator = self._members.get(stream) or self._stranger(stream)
        return Notification(id=n.id, originator_id=originator, originator_version=n.originator_version,
                            topic=n.topic, state=orjson.dumps(self._replace(payload)))

    def _stranger(self, original: UUID) -> UUID:
        """A member stream whose enrolment the export has not shown: a keyed id all the same."""
        return UUID(bytes=hmac.new(self._key, original.bytes, hashlib.sha256).digest()[:16], version=4)

    def _replace(self, value: Any) -> Any:
        """Personal fields by their pseudonyms; a message key naming a known person (``M1/member.admitted/…``) too."""
        if isinstance(value, dict):
            return {k: self.pseudonym(v) if k in PERSONAL_FIELDS and isinstance(v, str) and v
                    else self._replace(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._replace(v) for v in value]
        if isinstance(value, str) and self._known:
            head, slash, rest = value.partition("/")
            if head in self._known:
                return self._known[head] + slash + rest
        return value
