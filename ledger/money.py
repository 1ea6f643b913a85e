"""Money is exact: Decimal yuan, rounded half-up to the fen only where a rule settles an amount."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0.00")
FEN = Decimal("0.01")


def round_fen(amount: Decimal) -> Decimal:
    """Round an amount to the fen (0.01 yuan), half up: the one rounding of the ledger."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """Render an amount for the exchange contract: a decimal string with two places."""
    return str(amount.quantize(FEN))


def to_fen(amount: Decimal) -> int:
    """An amount as whole fen, for state kept compact in memory (an int is a quarter of a Decimal's size).

    Every amount the ledger books has at most two places (the exchange refuses finer ones and
    the rules round to the fen), so anything finer is a bug upstream, refused here loudly.
    """
    fen = amount.scaleb(2)
    whole = int(fen)
    if whole != fen:
        raise ValueError(f"{amount} is not a whole number of fen")
    return whole


def from_fen(fen: int) -> Decimal:
    """Whole fen back to yuan with two places, as the amount was booked (``from_fen(0)`` is ``0.00``)."""
    return Decimal(fen).scaleb(-2)
