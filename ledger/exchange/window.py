"""How far from the log's present a message may be dated, unless it says it is a backfill.

The log's present is the latest effective date already booked. A visit dated 2999 or an
enrolment of 1900 is far more likely a typing slip than a fact, so it is refused; a sender
migrating old records marks each message ``"backfill": true``. The two bounds are dated
parameters of ``assumed.yaml`` (no source document sets them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from ledger.errors import InputError
from ledger.refusals import RefusalCode

if TYPE_CHECKING:
    from ledger.exchange.messages import Message
    from ledger.policy.parameters import PolicyLibrary

ASSUMED = "assumed"


@dataclass(frozen=True)
class DateWindow:
    """Days a message may lie before the log's present, and after the later of it and today."""

    before: int
    after: int
    article: str

    @classmethod
    def of(cls, library: PolicyLibrary, on: date) -> DateWindow:
        """The window in force on ``on``, from the assumed parameters."""
        doc = library.documents[ASSUMED]

        def value(name: str) -> tuple[int, str]:
            dated = doc.parameters[name].values
            since = max((d for d in dated if d <= on), default=min(dated))
            found = dated[since]
            assert found is not None, f"{name} ended on {since}"
            return int(found.value), found.article

        before, article = value("date_window_days_before")
        after, _ = value("date_window_days_after")
        return cls(before, after, f"{doc.document.number} {article}")

    def check(self, msg: Message, present: date | None, today: date) -> None:
        """Refuse ``msg`` if one of its dates is outside the window, unless it is a backfill."""
        if msg.backfill:
            return
        latest = max(present or today, today) + timedelta(days=self.after)
        earliest = present - timedelta(days=self.before) if present else None
        for field in ("date", "setl_date"):
            day = getattr(msg, field, None)
            if day is None:
                continue
            if day > latest:
                reason = f"{day} is more than {self.after} days after the log's present {max(present or today, today)}"
            elif earliest is not None and day < earliest:
                reason = f"{day} is more than {self.before} days before the log's present {present}"
            else:
                continue
            raise InputError(field, f"{reason}; a backfill says so with \"backfill\": true",
                             code=RefusalCode.DATE_OUT_OF_WINDOW, article=self.article)
