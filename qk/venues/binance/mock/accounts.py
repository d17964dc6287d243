"""Balances (spot) and wallet and positions (USD-M futures) that the account endpoints report.

Spot: a new order locks what it may spend (BUY: price x qty of the quote asset, at the last price for
MARKET and at the stop price for stop-market; SELL: the base quantity); a fill spends from the lock,
credits the other asset less commission (BUY pays commission in the base asset, SELL in the quote
asset); cancel or expiry releases what is left. Futures: one wallet in the margin asset; positions
per (symbol, positionSide) with average entry price; a fill that reduces a position realises PnL
into the wallet; commission is charged on every fill in the margin asset; initial margin is
notional / leverage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from qk.venues.binance.mock import errors

ZERO = Decimal(0)


@dataclass
class Balance:
    """Free and locked amount of one asset."""

    free: Decimal = ZERO
    locked: Decimal = ZERO


class SpotAccount:
    """Spot balances keyed by asset."""

    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self.balances: dict[str, Balance] = {a: Balance(free=v) for a, v in balances.items()}
        self.update_ms = 0

    def balance(self, asset: str) -> Balance:
        """The balance of ``asset`` (created at zero)."""
        bal = self.balances.get(asset)
        if bal is None:
            bal = self.balances[asset] = Balance()
        return bal

    def lock(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` from free to locked; -2010 insufficient balance otherwise."""
        bal = self.balance(asset)
        if amount > bal.free:
            raise errors.new_order_rejected(
                "Account has insufficient balance for requested action."
            )
        bal.free -= amount
        bal.locked += amount

    def release(self, asset: str, amount: Decimal) -> None:
        """Move ``amount`` back from locked to free."""
        bal = self.balance(asset)
        bal.locked -= amount
        bal.free += amount

    def spend_locked(self, asset: str, locked_part: Decimal, actual: Decimal) -> None:
        """Spend ``actual`` against ``locked_part`` of the lock; the difference goes back to free."""
        bal = self.balance(asset)
        bal.locked -= locked_part
        bal.free += locked_part - actual

    def credit(self, asset: str, amount: Decimal) -> None:
        """Add ``amount`` (may be negative) to free."""
        self.balance(asset).free += amount


@dataclass
class Position:
    """One futures position (signed amount in one-way mode, LONG >= 0 / SHORT <= 0 in hedge mode)."""

    symbol: str
    position_side: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    update_ms: int = 0


@dataclass
class SymbolConfig:
    """Per-symbol futures settings."""

    leverage: int = 20
    margin_type: str = "cross"


@dataclass
class FuturesAccount:
    """USD-M futures wallet, positions and settings."""

    asset: str
    wallet: Decimal
    dual_side: bool = False
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    configs: dict[str, SymbolConfig] = field(default_factory=dict)
    update_ms: int = 0

    def config(self, symbol: str) -> SymbolConfig:
        """Settings of ``symbol`` (defaults on first use)."""
        cfg = self.configs.get(symbol)
        if cfg is None:
            cfg = self.configs[symbol] = SymbolConfig()
        return cfg

    def position(self, symbol: str, position_side: str) -> Position:
        """The position for ``(symbol, position_side)``, created flat."""
        key = (symbol, position_side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, position_side)
        return pos

    def used_margin(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Initial margin of every open position at its entry price."""
        total = ZERO
        for pos in self.positions.values():
            if pos.amount:
                total += abs(pos.amount) * pos.entry_price / self.config(pos.symbol).leverage
        return total

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Unrealised PnL of every position at ``marks`` (last trade prices)."""
        total = ZERO
        for pos in self.positions.values():
            mark = marks.get(pos.symbol)
            if pos.amount and mark is not None:
                total += (mark - pos.entry_price) * pos.amount
        return total

    def apply_fill(
        self, symbol: str, position_side: str, side: str, qty: Decimal, price: Decimal, ts_ms: int
    ) -> tuple[Position, Decimal]:
        """Apply a fill to the position; return it and the realised PnL of this fill."""
        pos = self.position(symbol, position_side)
        signed = qty if side == "BUY" else -qty
        realized = ZERO
        if pos.amount == ZERO or (pos.amount > 0) == (signed > 0):
            new_amount = pos.amount + signed
            pos.entry_price = (pos.entry_price * abs(pos.amount) + price * qty) / abs(new_amount)
            pos.amount = new_amount
        else:
            closing = min(abs(signed), abs(pos.amount))
            direction = Decimal(1) if pos.amount > 0 else Decimal(-1)
            realized = (price - pos.entry_price) * closing * direction
            remainder = abs(signed) - closing
            pos.amount += signed
            if pos.amount == ZERO:
                pos.entry_price = ZERO
            elif remainder > ZERO:
                pos.entry_price = price
        pos.update_ms = ts_ms
        self.wallet += realized
        self.update_ms = ts_ms
        return pos, realized
