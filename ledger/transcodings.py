"""Transcodings the event store needs beyond the library's own (DecimalAsStr, DatetimeAsISO)."""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding, UUIDAsHex


class DateAsISO(Transcoding):
    """Transcoding that represents :class:`date` objects (effective dates) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        """``2024-03-20``."""
        return obj.isoformat()

    def decode(self, data: str) -> date:
        """Back to a date."""
        return date.fromisoformat(data)


def make_transcoder() -> JSONTranscoder:
    """The transcoder the ledger's events are stored with, for reading a log without the application."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder
