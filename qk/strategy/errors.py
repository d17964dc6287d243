"""Errors of the strategy SDK, each with a typed reason that has a stable code."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "DescriptorError",
    "DescriptorErrorReason",
    "InvalidOrderRequest",
    "OrderRequestReason",
    "ParamError",
    "ParamErrorReason",
    "StrategyError",
    "StrategyLoadError",
]


class ParamErrorReason(IntEnum):
    """Why a strategy parameter was refused. Codes are stable (logs and tests match on them)."""

    UNKNOWN_NAME = 1
    """The strategy declares no parameter of that name."""
    WRONG_TYPE = 2
    """The value cannot be read as the declared type."""
    OUT_OF_RANGE = 3
    """The value breaks a declared constraint (ge, gt, le, lt, choices)."""
    MISSING = 4
    """A parameter without a default was not given."""
    MALFORMED = 5
    """A command-line assignment is not ``NAME=VALUE``, or a name is given twice."""
    BAD_DECLARATION = 6
    """The ``Params`` class itself is wrong (not a dataclass, unsupported field type)."""


class DescriptorErrorReason(IntEnum):
    """Why a deployment descriptor was refused. Codes are stable."""

    UNREADABLE = 1
    """The file is missing or is not valid TOML."""
    UNKNOWN_FIELD = 2
    """A table or key the descriptor does not define."""
    MISSING_FIELD = 3
    """A required key is absent."""
    WRONG_TYPE = 4
    """A value of the wrong TOML type."""
    UNKNOWN_INSTRUMENT = 5
    """An instrument not found on the venue."""
    IMPOSSIBLE_LIMIT = 6
    """The risk table is refused by ``qk.risk`` configuration validation."""
    UNKNOWN_MODE = 7
    """A mode other than backtest, paper or live."""
    UNKNOWN_VALUE = 8
    """A value outside its set (a venue name, a breach state, a timeframe)."""
    BAD_PARAMS = 9
    """The strategy parameters are refused by the strategy's ``Params``."""
    MISSING_DATA = 10
    """A ``[data] path`` that names no file."""
    BAD_STRATEGY = 10
    """The strategy class cannot be found or is not a :class:`~qk.strategy.Strategy`."""


class OrderRequestReason(IntEnum):
    """Why the context refused an order command before it reached risk. Codes are stable."""

    UNKNOWN_INSTRUMENT = 1
    """The instrument id is not one the strategy was deployed on."""
    BAD_QUANTITY = 2
    """Quantity not a positive Decimal/int multiple of the lot size."""
    BAD_PRICE = 3
    """Price not a positive Decimal/int multiple of the tick size."""
    UNKNOWN_ORDER = 4
    """Modify or cancel of an order id this strategy never submitted."""
    EMPTY_MODIFY = 5
    """A modify that changes nothing."""


class StrategyError(Exception):
    """Base of every strategy SDK error."""


class ParamError(StrategyError, ValueError):
    """A strategy parameter was refused.

    Attributes:
        reason: Why.
        name: The parameter concerned ("" when none applies).
    """

    def __init__(self, reason: ParamErrorReason, name: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.name = name


class DescriptorError(StrategyError, ValueError):
    """A deployment descriptor was refused.

    Attributes:
        reason: Why.
        where: ``path [table] key`` of the offending entry.
    """

    def __init__(self, reason: DescriptorErrorReason, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.reason = reason
        self.where = where


class StrategyLoadError(StrategyError, ImportError):
    """A ``module:Class`` or ``path.py:Class`` strategy reference cannot be loaded."""


class InvalidOrderRequest(StrategyError, ValueError):
    """An order command the context refuses outright (bad quantity, unknown order...).

    Attributes:
        reason: Why.
    """

    def __init__(self, reason: OrderRequestReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
