"""The research data store: venue dumps, Kite candles and the WAL into partitioned Parquet.

See ``docs/data.md``. Typical use::

    from qk.data import DataStore, import_files, load_trades_from_store

    store = DataStore("data")
    import_files(store, "binance-trades", [Path("BTCUSDT-trades-2025-01-01.csv")], instrument)
    trades = load_trades_from_store(store, "BINANCE", "BTCUSDT", date(2025, 1, 1), date(2025, 1, 1))
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from qk.data.errors import DataError, DataFileError, StoreError
from qk.data.export import export_from_store, export_from_wal, export_table
from qk.data.importers import IMPORT_KINDS, import_files, read_kind
from qk.data.store import (
    DEFAULT_STORE,
    STORE_SCHEMA_VERSION,
    DataStore,
    InstrumentInfo,
    PartitionInfo,
    WriteReport,
)
from qk.data.wal_compaction import CompactionReport, compact_wal, wal_records

__all__ = [
    "DEFAULT_STORE",
    "IMPORT_KINDS",
    "STORE_SCHEMA_VERSION",
    "CompactionReport",
    "DataError",
    "DataFileError",
    "DataStore",
    "InstrumentInfo",
    "PartitionInfo",
    "StoreError",
    "WriteReport",
    "compact_wal",
    "export_from_store",
    "export_from_wal",
    "export_table",
    "import_files",
    "load_trades_from_store",
    "read_kind",
    "wal_records",
]


def load_trades_from_store(
    store: DataStore | str,
    venue: str,
    symbol: str,
    start: date | None = None,
    end: date | None = None,
) -> npt.NDArray[np.void]:
    """TradeEvent records of one instrument for UTC dates ``start..end`` (inclusive), ordered by
    time then trade id, with ``seq`` numbered 0.. in that order (the backtest's trade tape).

    Raises:
        DataError: nothing stored for the instrument in that range.
        StoreError: a store written by another layout.
    """
    store = store if isinstance(store, DataStore) else DataStore(store)
    trades = store.read("TradeEvent", venue, symbol, start, end)
    if len(trades) == 0:
        span = f"{start or 'start'}..{end or 'end'}"
        raise DataError(f"{store.root}: no TradeEvent stored for {venue} {symbol} in {span}")
    trades["seq"] = np.arange(len(trades), dtype=np.uint64)
    return trades
