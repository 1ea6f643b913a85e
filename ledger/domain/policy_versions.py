"""The log keeps every policy version a settlement used, so a replay needs no policy files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.domain.aggregate import Created, LedgerAggregate, LedgerEvent
from ledger.domain.ids import policy_version_id


class PolicyVersion(LedgerAggregate):
    """The resolved, cited parameters of one region on one range of dates, keyed by content hash."""

    TOPIC = "yibao:PolicyVersion"
    Event = LedgerEvent

    if TYPE_CHECKING:  # state, annotated for readers; the library must not see it as fields
        content_hash: str
        record: dict[str, Any]

    class Recorded(Created):
        """First use of a policy version."""

        TOPIC = "yibao:PolicyVersion.Recorded"
        content_hash: str
        record: dict[str, Any]

        def apply(self, pv: PolicyVersion) -> None:
            pv.content_hash, pv.record, pv.receipts = self.content_hash, self.record, {}

    @classmethod
    def record_version(cls, version: str, record: dict[str, Any]) -> PolicyVersion:
        """Record ``version`` with its parameters."""
        return cls._create(cls.Recorded, id=policy_version_id(version), content_hash=version, record=record)
