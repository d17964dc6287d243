"""``qk data import``: every supported file kind → records → the store.

Kinds: ``binance-trades``, ``binance-aggtrades``, ``binance-klines`` (data.binance.vision dumps,
:mod:`qk.data.binance_dumps`), ``kite-candles`` (:mod:`qk.data.kite_candles`) and ``trades``
(generic CSV/Parquet trades as ``qk bars`` reads them, :mod:`qk.bars.trades_file`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from qk.bars.trades_file import TradesFileError, read_trades
from qk.data.binance_dumps import read_binance_aggtrades, read_binance_klines, read_binance_trades
from qk.data.errors import DataFileError
from qk.data.kite_candles import read_kite_candles
from qk.data.store import DataStore, WriteReport
from qk.instruments import Instrument
from qk.schemas.records import new_records

__all__ = ["IMPORT_KINDS", "ImportResult", "import_files", "read_generic_trades", "read_kind"]


def read_generic_trades(
    path: Path, instrument: Instrument, *, round_values: bool = False
) -> npt.NDArray[np.void]:
    """A generic trades CSV/Parquet (columns of ``qk bars``) → TradeEvent records, file order.

    The side column (``side`` buy/sell, or ``buyer_maker``) sets the aggressor when present.

    Raises:
        DataFileError: naming the file, row and column (the trades reader's message).
    """
    try:
        table = read_trades(
            path, instrument.price_precision, instrument.size_precision, round_values=round_values
        )
    except TradesFileError as exc:
        # qk bars' hint names its own options; say what applies to an import instead.
        message = re.sub(r" \(set --\w+-precision, or --round to round to it\)$", "", str(exc))
        if message != str(exc):
            message += (
                f" ({instrument.name} has price_precision {instrument.price_precision}, "
                f"size_precision {instrument.size_precision}; --round rounds to them)"
            )
        raise DataFileError(path, message.removeprefix(f"{path}: ")) from None
    records = new_records("TradeEvent", len(table))
    records["ts_event"] = table.ts_event
    records["instrument_id"] = instrument.instrument_id
    records["price"] = table.price
    records["quantity"] = table.quantity
    records["venue_trade_id"] = table.trade_id
    records["aggressor"] = _aggressors(path, len(table))
    return records


def _aggressors(path: Path, count: int) -> npt.NDArray[np.uint8]:
    # read_trades checked the side values; read the column again to keep the aggressor.
    if path.suffix.lower() == ".parquet":
        names = pq.read_schema(path).names
        column = next((c for c in ("side", "buyer_maker") if c in names), None)
        values = pq.read_table(path, columns=[column]).column(0).to_pandas() if column else None
    else:
        header = pd.read_csv(path, nrows=0).columns
        column = next((c for c in ("side", "buyer_maker") if c in header), None)
        values = (
            pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False)[column]
            if column
            else None
        )
    out = np.zeros(count, dtype=np.uint8)
    if values is None:
        return out
    text = values.astype(str).str.strip().str.lower().to_numpy()
    if column == "buyer_maker":
        out[text == "true"], out[text == "false"] = 2, 1
    else:
        out[text == "sell"], out[text == "buy"] = 2, 1
    return out


Reader = Callable[[Path, Instrument], npt.NDArray[np.void]]

IMPORT_KINDS: Final[dict[str, Reader]] = {
    "binance-trades": read_binance_trades,
    "binance-aggtrades": read_binance_aggtrades,
    "binance-klines": read_binance_klines,
    "kite-candles": read_kite_candles,
    "trades": read_generic_trades,
}
"""``--kind`` → reader."""


def read_kind(
    kind: str,
    path: Path,
    instrument: Instrument,
    *,
    interval: str | None = None,
    round_values: bool = False,
) -> npt.NDArray[np.void]:
    """Read one file of a kind into records.

    Args:
        kind: one of :data:`IMPORT_KINDS`.
        path: the file.
        instrument: the instrument the file is of (ids and precisions).
        interval: candle interval, kite-candles only.
        round_values: round prices/quantities to the instrument's grid, ``trades`` only.

    Raises:
        ValueError: unknown kind, or an option the kind does not take.
        DataFileError: a bad file.
    """
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown --kind {kind!r}; one of {', '.join(IMPORT_KINDS)}")
    if interval is not None and kind != "kite-candles":
        raise ValueError("--interval is only for --kind kite-candles")
    if round_values and kind != "trades":
        raise ValueError("--round is only for --kind trades")
    if kind == "kite-candles":
        return read_kite_candles(path, instrument, interval=interval)
    if kind == "trades":
        return read_generic_trades(path, instrument, round_values=round_values)
    return IMPORT_KINDS[kind](path, instrument)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """One file imported: the file and what the store did with its records."""

    path: Path
    report: WriteReport


def import_files(
    store: DataStore,
    kind: str,
    paths: list[Path],
    instrument: Instrument,
    *,
    interval: str | None = None,
    round_values: bool = False,
) -> list[ImportResult]:
    """Read every file first (so a bad file stops the import before anything is written), then
    add each file's records to the store.

    Raises:
        DataFileError: the first bad file, naming its row and column.
        StoreError: the store disagrees with this build or the instrument.
    """
    loaded = [
        (path, read_kind(kind, path, instrument, interval=interval, round_values=round_values))
        for path in paths
    ]
    return [ImportResult(path, store.write(records, instrument)) for path, records in loaded]
