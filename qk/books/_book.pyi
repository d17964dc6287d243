"""Type stub of the compiled order-book module (cext/book.pyx)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

BID: int
ASK: int

def parse_decimal(text: str, precision: int) -> int: ...
def parse_level_pairs(
    pairs: list[Any], price_precision: int, size_precision: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

class L2Levels:
    def __init__(self, initial_capacity: int = 256) -> None: ...
    def clear(self) -> None: ...
    def apply(
        self, side: int, prices: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
    ) -> int: ...
    def level_count(self, side: int) -> int: ...
    def best(self, side: int) -> tuple[int, int]: ...
    def is_crossed(self) -> bool: ...
    def size_at(self, side: int, price: int) -> int: ...
    def top(
        self, side: int, out_prices: npt.NDArray[np.int64], out_sizes: npt.NDArray[np.int64]
    ) -> int: ...

def decode_trades(
    messages: list[bytes | str],
    loads: Callable[[bytes | str], Any],
    symbols: dict[str, tuple[int, int, int]],
    ts_recv: npt.NDArray[np.int64],
    out: npt.NDArray[np.void],
    start: int = 0,
) -> int: ...
