"""Risk limits: a typed, validated configuration.

Quantities are in instrument units (``Decimal("0.5")`` BTC, ``Decimal(75)`` units of a future),
money is in the account currency (one currency per engine; converting currencies is later work),
fractions are plain decimals (``Decimal("0.10")`` is 10 %). ``None`` means "no limit". A limit of
zero or below is an error: to forbid an instrument, leave it out of ``permitted_instruments``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from types import MappingProxyType

from qk.risk.errors import RiskConfigError
from qk.risk.states import TradingState
from qk.schemas.enums import Venue

_BREACH_STATES = (TradingState.REDUCING, TradingState.HALTED)


def _check_positive(owner: str, name: str, value: object, *, integer: bool = False) -> None:
    if value is None:
        return
    kinds: tuple[type, ...] = (int,) if integer else (int, Decimal)
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = "an int" if integer else "a Decimal or int (not a float)"
        raise RiskConfigError(f"{owner}.{name} must be {wanted} or None, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise RiskConfigError(f"{owner}.{name} must be finite, got {value}")
    if value <= 0:  # type: ignore[operator]  # int or Decimal, checked just above
        raise RiskConfigError(f"{owner}.{name} must be > 0 (None means no limit), got {value}")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits of one strategy, or of everything together (``RiskConfig.global_limits``).

    Attributes:
        max_order_quantity: Largest quantity of one order, instrument units.
        max_order_notional: Largest value of one order (price x quantity x multiplier), money.
        max_position: Largest |position| per instrument, instrument units.
        max_gross_exposure: Largest sum of |position x last price x multiplier|, money.
        max_leverage: Largest gross exposure / equity.
        max_orders_per_window: Most approved orders in ``rate_window_ns``.
        rate_window_ns: Sliding window of the order rate, ns.
        price_band: Largest |limit price - last| / last for a limit price.
        permitted_instruments: Instrument ids that may be traded (None: all).
        permitted_venues: Venues that may be traded (None: all).
        max_drawdown: Largest drawdown fraction of peak equity before ``drawdown_state``.
        drawdown_state: REDUCING or HALTED on a drawdown breach.
        max_daily_loss: Largest loss since the session start (money, > 0) before
            ``daily_loss_state``.
        daily_loss_state: REDUCING or HALTED on a daily-loss breach.
    """

    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_leverage: Decimal | None = None
    max_orders_per_window: int | None = None
    rate_window_ns: int | None = None
    price_band: Decimal | None = None
    permitted_instruments: frozenset[int] | None = None
    permitted_venues: frozenset[Venue] | None = None
    max_drawdown: Decimal | None = None
    drawdown_state: TradingState = TradingState.HALTED
    max_daily_loss: Decimal | None = None
    daily_loss_state: TradingState = TradingState.HALTED

    def __post_init__(self) -> None:
        self.validate("RiskLimits")

    def validate(self, owner: str) -> None:
        """Check every field; ``owner`` prefixes the messages (``strategies[7]``).

        Raises:
            RiskConfigError: The first problem found, naming the field and the value.
        """
        for f in fields(self):
            if f.name in ("max_orders_per_window", "rate_window_ns"):
                _check_positive(owner, f.name, getattr(self, f.name), integer=True)
            elif f.type in ("Decimal | None",):
                _check_positive(owner, f.name, getattr(self, f.name))
        for name in ("max_drawdown", "price_band"):
            value = getattr(self, name)
            if value is not None and value >= 1:
                raise RiskConfigError(
                    f"{owner}.{name} is a fraction and must be < 1 (0.1 is 10 %), got {value}"
                )
        if (self.max_orders_per_window is None) != (self.rate_window_ns is None):
            raise RiskConfigError(
                f"{owner}: max_orders_per_window and rate_window_ns go together, got "
                f"{self.max_orders_per_window} and {self.rate_window_ns}"
            )
        if (
            self.max_order_quantity is not None
            and self.max_position is not None
            and self.max_order_quantity > self.max_position
        ):
            raise RiskConfigError(
                f"{owner}: max_order_quantity {self.max_order_quantity} exceeds max_position "
                f"{self.max_position}: an opening order that size could never pass"
            )
        if (
            self.max_order_notional is not None
            and self.max_gross_exposure is not None
            and self.max_order_notional > self.max_gross_exposure
        ):
            raise RiskConfigError(
                f"{owner}: max_order_notional {self.max_order_notional} exceeds "
                f"max_gross_exposure {self.max_gross_exposure}: an opening order that size "
                "could never pass"
            )
        for name in ("drawdown_state", "daily_loss_state"):
            if getattr(self, name) not in _BREACH_STATES:
                raise RiskConfigError(
                    f"{owner}.{name} must be REDUCING or HALTED, got {getattr(self, name)!r}"
                )
        for name, kind in (("permitted_instruments", int), ("permitted_venues", Venue)):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, frozenset) or not all(isinstance(v, kind) for v in value):
                raise RiskConfigError(
                    f"{owner}.{name} must be a frozenset of {kind.__name__} or None, got {value!r}"
                )


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Circuit breakers that trip and recover on the clock.

    Attributes:
        reject_burst_count: Denials + venue rejects of one strategy within
            ``reject_burst_window_ns`` that halt that strategy.
        global_reject_burst_count: Denials + venue rejects of all strategies together within the
            window that halt everything (None: no global burst breaker).
        reject_burst_window_ns: Sliding window of the burst count, ns.
        reject_burst_cooldown_ns: How long a tripped breaker halts, ns.
        stale_after_ns: A price older than this denies new orders on its instrument.
    """

    reject_burst_count: int | None = None
    global_reject_burst_count: int | None = None
    reject_burst_window_ns: int | None = None
    reject_burst_cooldown_ns: int | None = None
    stale_after_ns: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_positive("BreakerConfig", f.name, getattr(self, f.name), integer=True)
        counted = self.reject_burst_count is not None or self.global_reject_burst_count is not None
        timing = (self.reject_burst_window_ns, self.reject_burst_cooldown_ns)
        has_timing = all(v is not None for v in timing)
        if counted != has_timing or (not counted and timing != (None, None)):
            raise RiskConfigError(
                "BreakerConfig: a reject burst count (reject_burst_count and/or "
                "global_reject_burst_count) goes with reject_burst_window_ns and "
                f"reject_burst_cooldown_ns, got counts {self.reject_burst_count}, "
                f"{self.global_reject_burst_count} and timing {timing}"
            )


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Every limit of one risk engine.

    Attributes:
        global_limits: Limits over everything (positions and exposure summed over strategies).
        default_limits: Limits of a strategy not named in ``strategies``.
        strategies: Limits per strategy id (> 0).
        breakers: Circuit breakers.
    """

    global_limits: RiskLimits = field(default_factory=RiskLimits)
    default_limits: RiskLimits = field(default_factory=RiskLimits)
    strategies: Mapping[int, RiskLimits] = field(default_factory=dict)
    breakers: BreakerConfig = field(default_factory=BreakerConfig)

    def __post_init__(self) -> None:
        for name, value in (
            ("global_limits", self.global_limits),
            ("default_limits", self.default_limits),
        ):
            if not isinstance(value, RiskLimits):
                raise RiskConfigError(f"RiskConfig.{name} must be RiskLimits, got {value!r}")
        if not isinstance(self.breakers, BreakerConfig):
            raise RiskConfigError(
                f"RiskConfig.breakers must be BreakerConfig, got {self.breakers!r}"
            )
        for strategy_id, limits in self.strategies.items():
            if (
                isinstance(strategy_id, bool)
                or not isinstance(strategy_id, int)
                or strategy_id <= 0
            ):
                raise RiskConfigError(
                    f"RiskConfig.strategies: strategy ids are ints > 0 (0 is the global level), "
                    f"got {strategy_id!r}"
                )
            if not isinstance(limits, RiskLimits):
                raise RiskConfigError(
                    f"RiskConfig.strategies[{strategy_id}] must be RiskLimits, got {limits!r}"
                )
        # A read-only copy, so the engine's view cannot change under it.
        object.__setattr__(self, "strategies", MappingProxyType(dict(self.strategies)))

    def limits_of(self, strategy_id: int) -> RiskLimits:
        """The limits of a strategy (its own, else ``default_limits``); 0 gives the global ones."""
        if strategy_id == 0:
            return self.global_limits
        return self.strategies.get(strategy_id, self.default_limits)
