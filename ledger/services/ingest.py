"""Ingest a file of exchange messages: every line booked, already present, or refused with its place.

Valid messages are booked in batches (one transaction each); a refused line is reported as
``FILE:LINE: type: field: reason`` and the run goes on. A month or year close in the file
first books everything before it, so it sees all that came earlier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from ledger.adapters.checkpoints import wal_checkpoints
from ledger.adapters.collector import batch_collection
from ledger.errors import InputError, LedgerError
from ledger.exchange.messages import MessageError, parse_message
from ledger.exchange.window import DateWindow
from ledger.services.ports import BOOKED, PERIOD_TYPES, PRESENT

if TYPE_CHECKING:
    from ledger.exchange.messages import Message
    from ledger.services.ports import Booking, Outcome


@dataclass
class IngestReport:
    """What an ingest did."""

    lines: int = 0
    booked: int = 0
    present: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the end of a run."""
        return (f"{self.lines} lines: {self.booked} booked, {self.present} already present, "
                f"{self.refused} refused")


def describe(error: LedgerError) -> str:
    """``type``-less part of an error line: ``field: reason [code, article]``."""
    if isinstance(error, InputError):
        extra = ", ".join(x for x in (error.code, error.article) if x)
        return f"{error.field}: {error.reason}" + (f" [{extra}]" if extra else "")
    return f"-: {error}"


@batch_collection()
def ingest_file(app: Booking, path: str, *, batch_size: int = 200, progress: bool = False,
                errors_to: TextIO | None = None, today: date | None = None) -> IngestReport:
    """Book every line of ``path``; report refused lines to ``errors_to`` in file order as they happen.

    A line refused before booking (not a message, or dated outside the window of the log's
    present) waits in the batch with the lines around it, so the report keeps the file's order.
    """
    report = IngestReport()
    batch: list[tuple[int, Message | str]] = []
    """The batch's lines in file order: a message to book, or the report of a line already refused."""
    present = app.log_present()
    window = DateWindow.of(app.library, present or today or date.today())

    def refuse(line: str) -> None:
        report.refused += 1
        report.errors.append(line)
        if errors_to is not None:
            tqdm.write(line, file=errors_to)  # above a progress bar, never glued to it
            errors_to.flush()

    def note(lineno: int, type_: str, outcome: Outcome) -> None:
        if outcome == BOOKED:
            report.booked += 1
        elif outcome == PRESENT:
            report.present += 1
        elif isinstance(outcome, LedgerError):
            refuse(f"{path}:{lineno}: {type_}: {describe(outcome)}")

    def flush() -> None:
        messages = [m for _, m in batch if not isinstance(m, str)]
        outcomes = iter(app.book(messages, catch_up=False) if messages else ())
        for lineno, msg in batch:
            if isinstance(msg, str):
                refuse(msg)
            else:
                note(lineno, msg.type, next(outcomes))
        batch.clear()

    with wal_checkpoints(app.engine), open(path, "rb") as f, tqdm(
            total=os.path.getsize(path), unit="B", unit_scale=True, desc="ingesting", disable=not progress,
            leave=False, file=errors_to) as bar:
        for lineno, raw in enumerate(f, 1):
            bar.update(len(raw))
            if not raw.strip():
                continue
            report.lines += 1
            try:
                msg = parse_message(raw)
                window.check(msg, present, today or date.today())
            except MessageError as e:
                batch.append((lineno, f"{path}:{lineno}: {e}"))
                continue
            except InputError as e:
                batch.append((lineno, f"{path}:{lineno}: {msg.type}: {describe(e)}"))
                continue
            present = max(present or msg.date, msg.date)
            if msg.type in PERIOD_TYPES:
                flush()
                note(lineno, msg.type, app.close_period(msg, catch_up=False))
                continue
            batch.append((lineno, msg))
            if len(batch) >= batch_size:
                flush()
        flush()
        app.catch_up(progress=progress)
    return report
