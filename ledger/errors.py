"""The error tree: every refusal names what was wrong, where, and the rule it rests on."""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class InputError(LedgerError):
    """Raised when a message or command is refused: nothing is booked.

    ``field`` names the offending field (a dotted path for nested ones), ``code`` is a
    stable reason code for machines, and ``article`` the rule the refusal rests on, when
    one does.
    """

    def __init__(self, field: str, reason: str, *, code: str = "invalid", article: str = "") -> None:
        self.field = field
        self.reason = reason
        self.code = code
        self.article = article
        msg = f"{field}: {reason}" + (f" ({article})" if article else "")
        super().__init__(msg)


class UnknownError(InputError):
    """Raised when a message names a member, institution, prescription or settlement we do not hold."""

    def __init__(self, field: str, what: str, key: str) -> None:
        super().__init__(field, f"unknown {what} {key}", code=f"unknown_{what.replace(' ', '_')}")


class ConflictError(InputError):
    """Raised when a message reuses a business key that was booked with other content."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(
            field, f"{key} was already booked with different content", code="key_reused"
        )


class PolicyError(LedgerError):
    """Raised when a policy file is malformed or no policy covers a region and date."""


class PolicyNotInForceError(PolicyError):
    """Raised when a parameter is read for a region and date that no policy file covers."""


class PeriodError(InputError):
    """Raised when a month or year run is refused (already run, out of order, missing budget)."""
