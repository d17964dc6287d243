"""Where the mock's exchangeInfo and recorded trades come from.

A data directory has the layout of the fixture tree (``tests/fixtures/binance`` or
``../shared/fixtures/venues/binance``):

* ``nautilus_integration_resources/http_responses/http_spot_market_exchange_info.json`` — real spot
  exchangeInfo (2021-10-22: BTCUSDT, ETHUSDT);
* ``nautilus_crate_fixtures/spot/http_json/exchange_info_response.json`` — the doc example (ETHBTC,
  the only spot symbol that allows STOP_LOSS and TAKE_PROFIT market variants);
* ``nautilus_integration_resources/http_responses/http_futures_market_exchange_info.json`` — real
  USD-M exchangeInfo (2022-02-19);
* ``recorded_market_data/btcusdt-trades.csv`` — real spot BTCUSDT trades (optional).

The package ships the three exchangeInfo files under ``data/`` so the mock runs without a fixture
tree; trades are only replayed when a directory that has them is given.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

PACKAGE_DATA = Path(__file__).with_name("data")
SPOT_INFO = ("nautilus_integration_resources/http_responses/http_spot_market_exchange_info.json",)
SPOT_EXTRA_INFO = "nautilus_crate_fixtures/spot/http_json/exchange_info_response.json"
FUTURES_INFO = (
    "nautilus_integration_resources/http_responses/http_futures_market_exchange_info.json"
)
TRADES_CSV = "recorded_market_data/btcusdt-trades.csv"
EIGHT_DECIMALS = Decimal("1e-8")


class MockDataError(ValueError):
    """A data file is missing or cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class RecordedTrade:
    """One trade of the recorded tape."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    ts_ms: int


def _load_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise MockDataError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise MockDataError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("symbols"), list):
        raise MockDataError(f"{path}: not an exchangeInfo document (no 'symbols' list)")
    return doc


def load_exchange_info(data_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The spot exchangeInfo (real symbols plus the doc example's) and the futures one."""
    root = PACKAGE_DATA if data_dir is None else data_dir
    spot = _load_json(root / SPOT_INFO[0])
    extra_path = root / SPOT_EXTRA_INFO
    if extra_path.exists():
        known = {s["symbol"] for s in spot["symbols"]}
        extra = _load_json(extra_path)
        spot = {
            **spot,
            "symbols": [
                *spot["symbols"],
                *(s for s in extra["symbols"] if s["symbol"] not in known),
            ],
        }
    futures = _load_json(root / FUTURES_INFO)
    return spot, futures


def _parse_ts(text: str, path: Path, row: int) -> int:
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise MockDataError(f"{path}: row {row}, column 'timestamp': cannot read {text!r}") from exc


def _parse_dec(text: str, path: Path, row: int, column: str) -> Decimal:
    try:
        # The CSV was written from float64 ("0.014596000000000001"); Binance sends at most 8
        # decimals, so rounding to 8 restores the exchange's number.
        return Decimal(text).quantize(EIGHT_DECIMALS).normalize()
    except (ValueError, InvalidOperation) as exc:
        raise MockDataError(f"{path}: row {row}, column {column!r}: cannot read {text!r}") from exc


def load_trades_csv(path: Path, symbol: str = "BTCUSDT") -> list[RecordedTrade]:
    """Trades from a ``timestamp,trade_id,price,quantity,buyer_maker`` CSV, in file order."""
    try:
        handle = path.open(newline="")
    except OSError as exc:
        raise MockDataError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "trade_id", "price", "quantity"} - set(reader.fieldnames or ())
        if missing:
            raise MockDataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        out = []
        for row_no, row in enumerate(reader, start=2):
            try:
                trade_id = int(row["trade_id"])
            except ValueError as exc:
                raise MockDataError(
                    f"{path}: row {row_no}, column 'trade_id': cannot read {row['trade_id']!r}"
                ) from exc
            out.append(
                RecordedTrade(
                    symbol=symbol,
                    trade_id=trade_id,
                    price=_parse_dec(row["price"], path, row_no, "price"),
                    qty=_parse_dec(row["quantity"], path, row_no, "quantity"),
                    ts_ms=_parse_ts(row["timestamp"], path, row_no),
                )
            )
    return out
