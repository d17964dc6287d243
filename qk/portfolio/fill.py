"""The fill as the portfolio sees it: a value object, built directly or from a FillEvent record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qk.schemas.enums import Side

__all__ = ["Fill"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution, as applied to the portfolio.

    Attributes:
        strategy_id: Strategy that owns the order (1..2**32-1; 0 is the account level and
            cannot trade).
        instrument_id: Instrument master id.
        side: BUY or SELL.
        price: Fill price, raw at the instrument's price_precision; > 0.
        quantity: Fill quantity, raw at the instrument's size_precision; > 0.
        fee: Fee charged, money raw at MONEY_PRECISION (negative for a rebate).
        fee_currency: Currency of the fee; must be the instrument's currency unless the fee is 0.
        ts_event: Venue time of the fill, ns since epoch UTC.
        client_order_id: Order the fill belongs to (0 if unknown).
        trade_id: Venue trade id (0 if unknown).
    """

    strategy_id: int
    instrument_id: int
    side: Side
    price: int
    quantity: int
    fee: int = 0
    fee_currency: str = ""
    ts_event: int = 0
    client_order_id: int = 0
    trade_id: int = 0

    @classmethod
    def from_record(cls, row: np.void) -> Fill:
        """Build a Fill from one FillEvent record.

        Raises:
            ValueError: The record's side is not a Side.
        """
        return cls(
            strategy_id=int(row["strategy_id"]),
            instrument_id=int(row["instrument_id"]),
            side=Side(int(row["side"])),
            price=int(row["price"]),
            quantity=int(row["quantity"]),
            fee=int(row["fee"]),
            fee_currency=bytes(row["fee_currency"]).rstrip(b"\0").decode("ascii"),
            ts_event=int(row["ts_event"]),
            client_order_id=int(row["client_order_id"]),
            trade_id=int(row["trade_id"]),
        )

    @property
    def signed_quantity(self) -> int:
        """``quantity`` for a buy, ``-quantity`` for a sell."""
        return self.quantity if self.side is Side.BUY else -self.quantity
