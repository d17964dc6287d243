"""Errors of the risk package: bad configuration and bad input, never a denial.

A denial is an ordinary result (:class:`qk.risk.decision.RiskDecision`), not an exception.
"""

from __future__ import annotations


class RiskError(Exception):
    """Base of every risk error."""


class RiskConfigError(RiskError, ValueError):
    """A risk configuration that cannot be applied (negative limit, impossible combination)."""


class InvalidRiskInput(RiskError, ValueError):
    """An intent, fill, price or command the engine cannot interpret (the message says why)."""
