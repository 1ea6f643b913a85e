"""A window on the policy that records what each rule reads, for the trace."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.policy.parameters import Cited, Policy


class Reader:
    """Reads parameters from a :class:`~ledger.policy.parameters.Policy` and remembers which."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._read: dict[str, Cited] = {}

    def cited(self, name: str) -> Cited:
        """The cited value of ``name``, recorded as read."""
        cited = self._read.get(name)
        if cited is None:
            cited = self._read[name] = self.policy.get(name)
        return cited

    def value(self, name: str) -> Any:
        """The value of ``name``, recorded as read."""
        return self.cited(name).value

    def amount(self, name: str) -> Decimal:
        """An amount or rate parameter."""
        value = self.value(name)
        if not isinstance(value, Decimal):
            msg = f"{name} is not an amount or a rate"
            raise TypeError(msg)
        return value

    def flag(self, name: str) -> bool:
        """A flag parameter; an absent one reads as an error like any other."""
        return bool(self.value(name))

    def has(self, name: str) -> bool:
        """Whether ``name`` is in force (not recorded: reading nothing cites nothing)."""
        return self.policy.has(name)

    def take(self) -> list[Cited]:
        """What was read since the last call, in order."""
        read, self._read = list(self._read.values()), {}
        return read
