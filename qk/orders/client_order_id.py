"""Deterministic client order ids: strategy id + per-strategy sequence in one u64.

Replays and crash recovery must match orders up (DESIGN.md §7), so an id is a pure function of
the strategy and the order's sequence number within that strategy, never random or time based.

Packing (the ``client_order_id`` u64 of every order record)::

    bits 63..40  strategy_id   24 bits, 1 .. 16_777_215
    bits 39..0   sequence      40 bits, 1 .. 1_099_511_627_775 (a trillion orders per strategy)

0 stays "no order" in records, so both parts start at 1.

Venue string form: ``"qk"`` + the u64 in lower-case base 36, zero-padded to 13 digits
(``"qk000000000001"`` style), always 15 characters of ``[a-z0-9]``. It fits every venue we use:

- Binance ``newClientOrderId``: at most 36 characters of ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``
  (Binance spot REST docs, as quoted by NautilusTrader's Binance encoder documentation).
- Zerodha Kite ``tag``: at most 20 characters, longer tags are rejected (VENUES.md §1.3); Kite has
  no client order id, the tag is where ours travels. Letters and digits only, so no charset risk.
- CoinDCX ``client_order_id``: at most 36 characters (VENUES.md §5.2).

The ``qk`` prefix tells our orders from others (Kite web/app orders, Binance ``autoclose-``
liquidation orders) during reconciliation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from qk.orders.errors import InvalidClientOrderId

__all__ = [
    "CLIENT_ORDER_ID_PREFIX",
    "CLIENT_ORDER_ID_TEXT_LENGTH",
    "MAX_SEQUENCE",
    "MAX_STRATEGY_ID",
    "SEQUENCE_BITS",
    "ClientOrderId",
    "ClientOrderIdGenerator",
]

SEQUENCE_BITS: Final = 40
"""Low bits holding the per-strategy sequence."""
MAX_STRATEGY_ID: Final = (1 << (64 - SEQUENCE_BITS)) - 1
"""Largest strategy id that fits the packing (16_777_215)."""
MAX_SEQUENCE: Final = (1 << SEQUENCE_BITS) - 1
"""Largest per-strategy sequence number."""
CLIENT_ORDER_ID_PREFIX: Final = "qk"
"""Prefix of the venue string form."""
_BASE36_DIGITS: Final = 13  # 36**13 > 2**64 > 36**12
CLIENT_ORDER_ID_TEXT_LENGTH: Final = len(CLIENT_ORDER_ID_PREFIX) + _BASE36_DIGITS
"""Length of the venue string form: 15."""
_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
_TEXT_PATTERN: Final = re.compile(rf"{CLIENT_ORDER_ID_PREFIX}[0-9a-z]{{{_BASE36_DIGITS}}}")


@dataclass(frozen=True, slots=True, order=True)
class ClientOrderId:
    """A client order id: strategy id and sequence, packed into a u64.

    Attributes:
        strategy_id: The strategy that owns the order, 1..MAX_STRATEGY_ID.
        sequence: The order's number within the strategy, 1..MAX_SEQUENCE.
    """

    strategy_id: int
    sequence: int

    def __post_init__(self) -> None:
        for name, value, limit in (
            ("strategy_id", self.strategy_id, MAX_STRATEGY_ID),
            ("sequence", self.sequence, MAX_SEQUENCE),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise InvalidClientOrderId(
                    f"client order id {name} must be an int in 1..{limit}, got {value!r}"
                )

    @property
    def value(self) -> int:
        """The packed u64 (the ``client_order_id`` field of order records)."""
        return (self.strategy_id << SEQUENCE_BITS) | self.sequence

    @classmethod
    def from_int(cls, value: int) -> ClientOrderId:
        """Unpack a u64.

        Raises:
            InvalidClientOrderId: Not a u64, or a part is 0.
        """
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 64:
            raise InvalidClientOrderId(f"client order id must be a non-zero u64, got {value!r}")
        return cls(value >> SEQUENCE_BITS, value & MAX_SEQUENCE)

    def to_text(self) -> str:
        """The venue string form: ``qk`` + 13 base-36 digits (15 characters)."""
        value = self.value
        digits = ["0"] * _BASE36_DIGITS
        for index in range(_BASE36_DIGITS - 1, -1, -1):
            value, digit = divmod(value, 36)
            digits[index] = _ALPHABET[digit]
        return CLIENT_ORDER_ID_PREFIX + "".join(digits)

    @classmethod
    def from_text(cls, text: str) -> ClientOrderId:
        """Parse the venue string form.

        Raises:
            InvalidClientOrderId: Not one of ours (another prefix, length or charset).
        """
        if not isinstance(text, str) or _TEXT_PATTERN.fullmatch(text) is None:
            raise InvalidClientOrderId(
                f"{text!r} is not a QuantKubera client order id "
                f"({CLIENT_ORDER_ID_PREFIX!r} + {_BASE36_DIGITS} base-36 digits)"
            )
        value = int(text[len(CLIENT_ORDER_ID_PREFIX) :], 36)
        if value >= 1 << 64:
            raise InvalidClientOrderId(f"{text!r} is beyond the u64 range")
        return cls.from_int(value)

    @staticmethod
    def is_ours(text: str) -> bool:
        """Whether a venue's client id / tag is one of our client order ids."""
        try:
            ClientOrderId.from_text(text)
        except InvalidClientOrderId:
            return False
        return True

    def __str__(self) -> str:
        return self.to_text()


class ClientOrderIdGenerator:
    """Hands out a strategy's client order ids in sequence.

    Deterministic: the n-th order of a strategy always gets sequence n (counting from
    ``last_sequence + 1``). On recovery, start it from the highest sequence found in the WAL.

    Args:
        strategy_id: The strategy, 1..MAX_STRATEGY_ID.
        last_sequence: The last sequence already used (0 for a fresh strategy).
    """

    __slots__ = ("_last", "_strategy_id")

    def __init__(self, strategy_id: int, last_sequence: int = 0) -> None:
        ClientOrderId(strategy_id, 1)  # validates strategy_id
        if (
            isinstance(last_sequence, bool)
            or not isinstance(last_sequence, int)
            or not 0 <= last_sequence <= MAX_SEQUENCE
        ):
            raise InvalidClientOrderId(
                f"last_sequence must be an int in 0..{MAX_SEQUENCE}, got {last_sequence!r}"
            )
        self._strategy_id = strategy_id
        self._last = last_sequence

    @property
    def last_sequence(self) -> int:
        """The last sequence handed out."""
        return self._last

    def next(self) -> ClientOrderId:
        """The next client order id.

        Raises:
            InvalidClientOrderId: The strategy's sequence space is exhausted.
        """
        if self._last >= MAX_SEQUENCE:
            raise InvalidClientOrderId(
                f"strategy {self._strategy_id} has used all {MAX_SEQUENCE} client order ids"
            )
        self._last += 1
        return ClientOrderId(self._strategy_id, self._last)
