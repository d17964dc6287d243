"""Errors of the simulated exchange: misuse by the caller, never market outcomes.

A venue outcome (an invalid price, a reduce-only order that would increase the position) is an
order event with a :class:`qk.schemas.enums.RejectReason`, not an exception. These exceptions
mean the caller broke the simulator's contract (time going backwards, an unknown order).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ExecutionError",
    "ExecutionErrorReason",
    "InvalidCommand",
    "InvalidMarketData",
    "InvalidSimulatorConfig",
    "TimeWentBackwards",
]


class ExecutionErrorReason(IntEnum):
    """Why the simulator refused a call; stable codes for logs."""

    TIME_WENT_BACKWARDS = 1
    """A command or market event stamped before something already processed (look-ahead)."""
    INVALID_COMMAND = 2
    """A command naming an unknown order or instrument, or an order in the wrong state."""
    INVALID_MARKET_DATA = 3
    """A trade or quote with a non-positive price or size, or an unknown instrument."""
    INVALID_CONFIG = 4
    """A latency, slippage or fee configuration that cannot work."""


class ExecutionError(Exception):
    """Base of the simulator's errors; ``reason`` says which."""

    reason: ExecutionErrorReason = ExecutionErrorReason.INVALID_COMMAND


class TimeWentBackwards(ExecutionError):
    """A timestamp earlier than the simulator's clock: it would let an order see the past."""

    reason = ExecutionErrorReason.TIME_WENT_BACKWARDS


class InvalidCommand(ExecutionError):
    """A command the simulator cannot take (unknown order, instrument, duplicate id...)."""

    reason = ExecutionErrorReason.INVALID_COMMAND


class InvalidMarketData(ExecutionError):
    """A trade or quote that cannot be matched against."""

    reason = ExecutionErrorReason.INVALID_MARKET_DATA


class InvalidSimulatorConfig(ExecutionError):
    """A latency, slippage or fee configuration that cannot work."""

    reason = ExecutionErrorReason.INVALID_CONFIG
