"""Anchored chain heads: the log's seal published where the store cannot reach it.

The hash chain (:mod:`ledger.projections.chain`) shows a change inside the log, but it lives
in the same database: whoever can delete the last events can delete their links too, and
the shorter log is as consistent as the longer. So the head (position, hash, time) is
published: ``ledger checkpoint`` appends it to a file kept elsewhere (run it from cron, or
after each ingest), ``ledger export`` writes it as the file's last line, optionally signed
with the operator's Ed25519 key. An audit given such a head (``--expect-head``) fails unless
the log, recomputed from its events, passes through it: the same position with the same hash.
A transparency log works the same way.

A signature covers one line of text, :func:`signed_text`; the checkpoint carries the public
key, and ``--trusted-key`` says which key must have signed it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select

from ledger.errors import LedgerError
from ledger.projections.chain import GENESIS, head, log_chain

if TYPE_CHECKING:
    from ledger.services.ports import AuditedLedger

HASH = re.compile(r"[0-9a-f]{64}")


class AnchorError(LedgerError):
    """A key or a checkpoint that cannot be read."""


@dataclass(frozen=True)
class Checkpoint:
    """A published chain head; ``position`` 0 with no hash known when only a hash was given."""

    position: int
    hash: str
    recorded_at: str | None = None
    public_key: str | None = None
    """Hex of the raw Ed25519 public key that signed it."""
    signature: str | None = None
    """Hex of the Ed25519 signature of :func:`signed_text`."""

    def passes(self, position: int, link: str) -> bool:
        """Whether the chain's ``link`` at ``position`` is this head: at its position, or, none known, with its hash."""
        return position == self.position if self.position else link == self.hash

    def signed_text(self) -> bytes:
        """What the signature covers."""
        return f"yibao-ledger chain head {self.position} {self.hash} {self.recorded_at}".encode()

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        """The same head, signed with ``key``."""
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return Checkpoint(self.position, self.hash, self.recorded_at, public.hex(), key.sign(self.signed_text()).hex())

    def signature_problems(self, trusted: Ed25519PublicKey | None = None) -> list[str]:
        """Why the signature does not hold (unsigned is fine unless a key is trusted)."""
        if self.signature is None or self.public_key is None:
            return ["the checkpoint is not signed, but a trusted key was given"] if trusted else []
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public_key))
            key.verify(bytes.fromhex(self.signature), self.signed_text())
        except (ValueError, InvalidSignature):
            return [f"the checkpoint's signature does not verify (position {self.position}, hash {self.hash})"]
        if trusted is not None and _raw(trusted) != _raw(key):
            return [f"the checkpoint is signed by key {self.public_key}, not by the trusted key"]
        return []

    def as_dict(self) -> dict[str, Any]:
        """As written: the unsigned fields left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def current_head(app: AuditedLedger) -> Checkpoint:
    """The live chain's head, once the read models have read the whole log."""
    app.read_models.catch_up()
    with app.engine.connect() as conn:
        position, hash_ = head(conn)
        recorded_at = conn.execute(select(log_chain.c.recorded_at).where(log_chain.c.position == position)).scalar()
    return Checkpoint(position, hash_, recorded_at)


def generate_key(path: str) -> str:
    """A new Ed25519 private key in ``path`` (PEM, as ``openssl genpkey -algorithm ed25519`` writes); its public hex."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    target = Path(path)
    target.touch(mode=0o600, exist_ok=False)
    target.write_bytes(pem)
    Path(f"{path}.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return _raw(key.public_key()).hex()


def load_private_key(path: str) -> Ed25519PrivateKey:
    """An operator's Ed25519 private key (PEM)."""
    key = _load(path, serialization.load_pem_private_key, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"{path}: not an Ed25519 private key"
        raise AnchorError(msg)
    return key


def load_public_key(path: str) -> Ed25519PublicKey:
    """An Ed25519 public key (PEM)."""
    key = _load(path, serialization.load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        msg = f"{path}: not an Ed25519 public key"
        raise AnchorError(msg)
    return key


def _load(path: str, loader: Any, **kw: Any) -> Any:
    try:
        return loader(Path(path).read_bytes(), **kw)
    except (OSError, ValueError, TypeError) as e:
        msg = f"{path}: cannot read the key ({e})"
        raise AnchorError(msg) from None


def append_checkpoint(checkpoint: Checkpoint, path: str) -> None:
    """Add one line to a file of checkpoints (the newest last)."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(checkpoint.as_dict()) + "\n")


def expected_head(value: str) -> Checkpoint:
    """``--expect-head``: a 64-digit hash, or a file of checkpoints (its last line) or an export (its head line)."""
    if HASH.fullmatch(value):
        return Checkpoint(0, value)
    try:
        record = json.loads(_last_line(Path(value)))
        if "chain_head" in record:  # an export's last line
            record = {**record, "hash": record.pop("chain_head")}
        return Checkpoint(int(record["position"]), str(record["hash"]), record.get("recorded_at"),
                          record.get("public_key"), record.get("signature"))
    except (OSError, IndexError, ValueError, KeyError, TypeError) as e:
        msg = f"--expect-head {value}: neither a chain hash nor a checkpoint file ({type(e).__name__}: {e})"
        raise AnchorError(msg) from None


def _last_line(path: Path, chunk: int = 4096) -> bytes:
    """The file's last non-blank line, read from its end (an export may be gigabytes)."""
    with path.open("rb") as f:
        end = f.seek(0, 2)
        tail = b""
        while end > 0 and len(tail.rstrip().splitlines()) < 2:  # two lines read: the last is whole
            start = max(0, end - chunk)
            f.seek(start)
            tail = f.read(end - start) + tail
            end = start
    lines = tail.rstrip().splitlines()
    if not lines:
        msg = "the file is empty"
        raise ValueError(msg)
    return lines[-1]


def anchor_problems(expected: Checkpoint, found: tuple[int, str] | None, last: int) -> list[str]:
    """Whether the log passes through the anchored head: ``found`` is the recomputed (position, hash) there.

    ``last`` is the last position the log holds.
    """
    if expected.hash == GENESIS or (found is not None and found == (expected.position or found[0], expected.hash)):
        return []  # every log extends the empty one
    if expected.position and last < expected.position:
        return [f"the log ends at position {last}, before the anchored head at {expected.position} (truncated)"]
    where = f"at position {expected.position}" if expected.position else "anywhere"
    return [f"the log does not pass through the anchored head {expected.hash} {where} (rewritten)"]
