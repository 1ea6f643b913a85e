"""The error tree: every refusal names what was wrong, where, and the rule it rests on."""

from __future__ import annotations

from ledger.refusals import RefusalCode


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class InputError(LedgerError):
    """Raised when a message or command is refused: nothing is booked.

    ``field`` names the offending field (a dotted path for nested ones), ``code`` is a
    stable reason code for machines, and ``article`` the rule the refusal rests on, when
    one does. Every code is a :class:`RefusalCode` (a string that prints as itself).
    """

    def __init__(self, field: str, reason: str, *, code: RefusalCode = RefusalCode.INVALID_VALUE,
                 article: str = "") -> None:
        self.field = field
        self.reason = reason
        self.code = RefusalCode(code)
        self.article = article
        msg = f"{field}: {reason}" + (f" ({article})" if article else "")
        super().__init__(msg)


_UNKNOWN = {
    "member": RefusalCode.UNKNOWN_MEMBER,
    "institution": RefusalCode.UNKNOWN_INSTITUTION,
    "prescription": RefusalCode.UNKNOWN_PRESCRIPTION,
    "settlement": RefusalCode.UNKNOWN_SETTLEMENT,
    "policy version": RefusalCode.UNKNOWN_POLICY_VERSION,
    "region": RefusalCode.UNKNOWN_REGION,
    "visit": RefusalCode.UNKNOWN_VISIT,
}


class UnknownError(InputError):
    """Raised when a message or query names a member, institution, region, … we do not hold."""

    def __init__(self, field: str, what: str, key: str) -> None:
        super().__init__(field, f"unknown {what} {key}", code=_UNKNOWN[what])


class ConflictError(InputError):
    """Raised when a message reuses a business key that was booked with other content."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(
            field, f"{key} was already booked with different content", code=RefusalCode.KEY_REUSED
        )


class PolicyError(LedgerError):
    """Raised when a policy file is malformed or no policy covers a region and date."""


class PolicyNotInForceError(PolicyError):
    """Raised when a parameter is read for a region and date that no policy file covers."""


class PeriodError(InputError):
    """Raised when a month or year run is refused (already run, out of order, missing budget)."""
