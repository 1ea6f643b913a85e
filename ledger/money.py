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
