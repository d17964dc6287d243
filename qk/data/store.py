"""The research data store: records as Parquet, partitioned by record type, venue, instrument
and UTC date.

::

    <root>/<RecordType>/_schema.json
    <root>/<RecordType>/venue=<VENUE>/instrument=<SYMBOL>/_instrument.json
    <root>/<RecordType>/venue=<VENUE>/instrument=<SYMBOL>/date=<YYYY-MM-DD>/part-00000.parquet

``_schema.json`` names the store layout version, the record type, its layout version and hash and
the columns; a store written by another layout is refused rather than misread.
``_instrument.json`` keeps the instrument id and precisions the raw values were written at, so a
partition is readable (and exportable as decimals) without the instrument master. Records that name
no instrument live under ``venue=NONE/instrument=NONE``.

Writing is append-only and idempotent: rows whose key is already in the partition are skipped, the
rest go into a new part file (written to a temporary name, then renamed). Keys: TradeEvent the
venue trade id (the whole record when the id is 0); BarEvent the bar source, aggregation,
timeframe, open time and revision (reading keeps the highest revision of a bar); every other
record its whole bytes. Trades partition by ``ts_event``, bars by ``open_time``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from qk.data.columns import arrow_schema, records_to_table, table_to_records
from qk.data.errors import StoreError
from qk.instruments import Instrument
from qk.schemas.records import LAYOUTS, UnknownRecordTypeError, dtype_of, layout_of, record_hash

__all__ = [
    "DEFAULT_STORE",
    "NO_INSTRUMENT",
    "STORE_SCHEMA_VERSION",
    "DataStore",
    "InstrumentInfo",
    "PartitionInfo",
    "WriteReport",
    "partition_time",
    "record_keys",
    "record_type_of_array",
    "sort_records",
    "unseen",
]

STORE_SCHEMA_VERSION: Final = 1
"""Version of the store layout (directories, ``_schema.json``, column mapping)."""

DEFAULT_STORE: Final = Path("data")
"""Default store root, relative to the working directory."""

NO_INSTRUMENT: Final = "NONE"
"""Venue and instrument directory name of records that name no instrument."""

_NS_PER_DAY: Final = 86_400 * 10**9
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.&\-]*$")  # NSE has M&M, BAJAJ-AUTO
_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """What a partition's raw values mean: the instrument id and precisions at write time."""

    venue: str
    symbol: str
    instrument_id: int
    price_precision: int
    size_precision: int

    @classmethod
    def of(cls, instrument: Instrument) -> InstrumentInfo:
        """From an instrument of the master."""
        return cls(
            instrument.venue.name,
            instrument.symbol,
            instrument.instrument_id,
            instrument.price_precision,
            instrument.size_precision,
        )


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What one write did.

    Attributes:
        record_type: The record type written.
        venue: Venue directory.
        symbol: Instrument directory.
        rows_in: Records given.
        rows_written: Records added to the store.
        rows_skipped: Records whose key was already stored (or repeated in the input).
        dates: Partitions that received rows.
    """

    record_type: str
    venue: str
    symbol: str
    rows_in: int
    rows_written: int
    rows_skipped: int
    dates: tuple[date, ...]


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One instrument of one record type in the store (``qk data ls``)."""

    record_type: str
    venue: str
    symbol: str
    first_date: date
    last_date: date
    rows: int
    files: int


def _utc_date(ns: int) -> date:
    return datetime.fromtimestamp(ns // _NS_PER_DAY * 86_400, tz=UTC).date()


def _check_name(kind: str, name: str) -> str:
    if not _SYMBOL_RE.match(name):
        raise StoreError(
            f"{kind} {name!r} cannot name a directory (letters, digits, '_', '.', '&', '-' only)"
        )
    return name


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def partition_time(records: npt.NDArray[np.void]) -> npt.NDArray[np.int64]:
    """The time that picks a record's date partition: ``open_time`` for bars, else ``ts_event``."""
    names = records.dtype.names or ()
    column = "open_time" if "open_time" in names else "ts_event"
    return np.asarray(records[column], dtype=np.int64)


def record_keys(records: npt.NDArray[np.void]) -> npt.NDArray[np.uint64]:
    """The de-duplication key of each record as a row of uint64 words (see the module doc).

    Trades: ``[1, trade id, 0...]``, or ``[0, the record's words]`` when the id is 0. Bars: source,
    aggregation, timeframe, open time, revision. Anything else: the record's bytes as words
    (every record size is a multiple of 8).
    """
    names = records.dtype.names or ()
    count = len(records)
    if "open_time" in names and "revision" in names:
        fields = ("bar_source", "aggregation", "timeframe_ns", "open_time", "revision")
        return np.stack([records[f].astype(np.int64).view(np.uint64) for f in fields], axis=1)
    words = (
        np.ascontiguousarray(records).view(np.uint64).reshape(count, records.dtype.itemsize // 8)
    )
    if "venue_trade_id" not in names:
        return words
    ids = np.asarray(records["venue_trade_id"], dtype=np.uint64)
    keys = np.zeros((count, words.shape[1] + 1), dtype=np.uint64)
    has_id = ids != 0
    keys[has_id, 0] = 1
    keys[has_id, 1] = ids[has_id]
    keys[~has_id, 1:] = words[~has_id]
    return keys


def unseen(existing: npt.NDArray[np.uint64], new: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """For each row of ``new``, whether its key is neither in ``existing`` nor earlier in ``new``."""
    both = np.concatenate([existing, new])
    # lexsort is stable: among equal keys the existing ones, then earlier new ones, come first.
    order = np.lexsort(both.T[::-1])
    ordered = both[order]
    first = np.ones(len(both), dtype=bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    is_first = np.empty(len(both), dtype=bool)
    is_first[order] = first
    return is_first[len(existing) :]


def _final_bars(records: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    # The last publication of a bar is its final state: keep the highest revision per bar.
    order = np.lexsort(
        (
            -records["revision"].astype(np.int64),
            records["open_time"],
            records["timeframe_ns"],
            records["aggregation"],
            records["bar_source"],
        )
    )
    ordered = records[order]
    ident = np.zeros(len(ordered), dtype=[("s", "u1"), ("a", "u1"), ("t", "i8"), ("o", "i8")])
    ident["s"], ident["a"] = ordered["bar_source"], ordered["aggregation"]
    ident["t"], ident["o"] = ordered["timeframe_ns"], ordered["open_time"]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ident[1:] != ident[:-1]
    return ordered[first]


def sort_records(records: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """Records in time order: bars by open time then timeframe, trades by time then trade id,
    everything else by ``ts_event`` (stable)."""
    names = records.dtype.names or ()
    if "open_time" in names and "revision" in names:
        order = np.lexsort((records["timeframe_ns"], records["open_time"]))
    elif "venue_trade_id" in names:
        order = np.lexsort((records["venue_trade_id"], records["ts_event"]))
    else:
        order = np.argsort(records["ts_event"], kind="stable")
    return records[order]


class DataStore:
    """A partitioned Parquet store of records rooted at a directory (see the module doc)."""

    def __init__(self, root: Path | str = DEFAULT_STORE) -> None:
        """Open (lazily create) the store at ``root``; nothing is written until records are."""
        self.root = Path(root)

    # -- paths ------------------------------------------------------------------------------------

    def type_dir(self, record_type: str) -> Path:
        """``<root>/<RecordType>``."""
        return self.root / layout_of(record_type).name

    def instrument_dir(self, record_type: str, venue: str, symbol: str) -> Path:
        """``<root>/<RecordType>/venue=<V>/instrument=<S>``."""
        return (
            self.type_dir(record_type)
            / f"venue={_check_name('venue', venue)}"
            / f"instrument={_check_name('symbol', symbol)}"
        )

    # -- metadata ---------------------------------------------------------------------------------

    @staticmethod
    def schema_document(record_type: str) -> dict[str, Any]:
        """The ``_schema.json`` content this build writes for a record type."""
        layout = layout_of(record_type)
        return {
            "store_schema_version": STORE_SCHEMA_VERSION,
            "record_type": layout.name,
            "record_type_id": layout.type_id,
            "record_version": layout.version,
            "record_hash": f"{record_hash(layout.name):#018x}",
            "columns": [{"name": f.name, "type": str(f.type)} for f in arrow_schema(layout.name)],
        }

    def check_schema(self, record_type: str, *, create: bool) -> None:
        """Check (or with ``create`` write) ``_schema.json`` of a record type.

        Raises:
            StoreError: the store holds this record type in another layout or store version.
        """
        path = self.type_dir(record_type) / "_schema.json"
        expected = self.schema_document(record_type)
        if not path.exists():
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, json.dumps(expected, indent=2) + "\n")
            return
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable schema file: {exc}") from None
        for key in ("store_schema_version", "record_version", "record_hash"):
            if found.get(key) != expected[key]:
                raise StoreError(
                    f"{path}: {key} is {found.get(key)!r}, this build writes {expected[key]!r}; "
                    "the store was written by another layout (use another --store, or re-import)"
                )

    def instrument_info(self, record_type: str, venue: str, symbol: str) -> InstrumentInfo | None:
        """The ``_instrument.json`` of a partition, or None (no instrument / nothing stored)."""
        path = self.instrument_dir(record_type, venue, symbol) / "_instrument.json"
        if not path.exists():
            return None
        try:
            return InstrumentInfo(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise StoreError(f"{path}: unreadable instrument file: {exc}") from None

    def _check_instrument(self, record_type: str, info: InstrumentInfo) -> None:
        stored = self.instrument_info(record_type, info.venue, info.symbol)
        path = self.instrument_dir(record_type, info.venue, info.symbol) / "_instrument.json"
        if stored is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, json.dumps(dataclasses.asdict(info), indent=2) + "\n")
        elif stored != info:
            raise StoreError(
                f"{path}: the stored rows were written as {stored}, the instrument is now {info}; "
                "raw values at another id or precision would be misread (use another --store)"
            )

    # -- writing ----------------------------------------------------------------------------------

    def write(
        self, records: npt.NDArray[np.void], instrument: Instrument | InstrumentInfo | None
    ) -> WriteReport:
        """Add records of one type and one instrument, skipping those already stored.

        Args:
            records: a 1-D record array (its dtype names the record type).
            instrument: the instrument every record names; None for records without one.

        Raises:
            StoreError: the records name another instrument id, or the store disagrees with this
                build's layout or the instrument's precision.
        """
        record_type = record_type_of_array(records)
        info = InstrumentInfo.of(instrument) if isinstance(instrument, Instrument) else instrument
        names = records.dtype.names or ()
        if info is not None and "instrument_id" in names and len(records):
            wrong = np.flatnonzero(records["instrument_id"] != info.instrument_id)
            if len(wrong):
                i = int(wrong[0])
                raise StoreError(
                    f"record {i} names instrument id {int(records['instrument_id'][i])}, "
                    f"not {info.instrument_id} ({info.symbol}.{info.venue})"
                )
        venue = info.venue if info else NO_INSTRUMENT
        symbol = info.symbol if info else NO_INSTRUMENT
        base = self.instrument_dir(record_type, venue, symbol)
        if len(records) == 0:
            return WriteReport(record_type, venue, symbol, 0, 0, 0, ())
        self.check_schema(record_type, create=True)
        if info is not None:
            self._check_instrument(record_type, info)
        days = partition_time(records) // _NS_PER_DAY
        written = 0
        touched: list[date] = []
        for day in np.unique(days).tolist():
            chunk = records[days == day]
            directory = base / f"date={_utc_date(int(day) * _NS_PER_DAY).isoformat()}"
            stored = self._read_dir(directory, record_type) if directory.exists() else chunk[:0]
            keep = unseen(record_keys(stored), record_keys(chunk))
            if keep.any():
                self._write_part(directory, chunk[keep], record_type)
                written += int(keep.sum())
                touched.append(_utc_date(int(day) * _NS_PER_DAY))
        return WriteReport(
            record_type,
            venue,
            symbol,
            len(records),
            written,
            len(records) - written,
            tuple(touched),
        )

    def _write_part(self, directory: Path, records: npt.NDArray[np.void], record_type: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _PART_RE.match(p.name))]
        path = directory / f"part-{(max(numbers) + 1 if numbers else 0):05d}.parquet"
        table = records_to_table(sort_records(records), record_type)
        table = table.replace_schema_metadata(
            {
                "qk.store_schema_version": str(STORE_SCHEMA_VERSION),
                "qk.record_type": record_type,
                "qk.record_version": str(layout_of(record_type).version),
            }
        )
        tmp = directory / f".{path.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)

    # -- reading ----------------------------------------------------------------------------------

    def _read_dir(self, directory: Path, record_type: str) -> npt.NDArray[np.void]:
        parts = sorted(p for p in directory.iterdir() if _PART_RE.match(p.name))
        tables = []
        for path in parts:
            try:
                tables.append(pq.read_table(path))
            except (OSError, pa.ArrowException) as exc:
                raise StoreError(f"{path}: unreadable part file: {exc}") from None
        if not tables:
            return table_to_records(arrow_schema(record_type).empty_table(), record_type)
        try:
            return table_to_records(pa.concat_tables(tables), record_type)
        except ValueError as exc:
            raise StoreError(f"{directory}: {exc}") from None

    def dates(self, record_type: str, venue: str, symbol: str) -> list[date]:
        """Dates with stored rows for one instrument, ascending."""
        base = self.instrument_dir(record_type, venue, symbol)
        if not base.exists():
            return []
        return sorted(
            date.fromisoformat(p.name.removeprefix("date="))
            for p in base.iterdir()
            if p.is_dir() and p.name.startswith("date=")
        )

    def read(
        self,
        record_type: str,
        venue: str,
        symbol: str,
        start: date | None = None,
        end: date | None = None,
    ) -> npt.NDArray[np.void]:
        """Records of one instrument for the dates ``start..end`` (inclusive, UTC), in time order.

        Bars come back as their final revision only.

        Raises:
            StoreError: unreadable files, or a store written by another layout.
        """
        layout = layout_of(record_type)
        self.check_schema(layout.name, create=False)
        base = self.instrument_dir(layout.name, venue, symbol)
        chunks = [
            self._read_dir(base / f"date={day.isoformat()}", layout.name)
            for day in self.dates(layout.name, venue, symbol)
            if (start is None or day >= start) and (end is None or day <= end)
        ]
        if not chunks:
            return table_to_records(arrow_schema(layout.name).empty_table(), layout.name)
        records = np.concatenate(chunks)
        if "revision" in (records.dtype.names or ()) and "open_time" in (records.dtype.names or ()):
            records = _final_bars(records)
        return sort_records(records)

    def partitions(self) -> Iterator[PartitionInfo]:
        """Every (record type, venue, instrument) in the store, with date range and row count."""
        if not self.root.exists():
            return
        for type_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            try:
                record_type = layout_of(type_dir.name).name
            except UnknownRecordTypeError:
                continue
            for venue_dir in sorted(type_dir.glob("venue=*")):
                for inst_dir in sorted(venue_dir.glob("instrument=*")):
                    venue = venue_dir.name.removeprefix("venue=")
                    symbol = inst_dir.name.removeprefix("instrument=")
                    days = self.dates(record_type, venue, symbol)
                    if not days:
                        continue
                    rows = files = 0
                    for day in days:
                        for part in (inst_dir / f"date={day.isoformat()}").iterdir():
                            if _PART_RE.match(part.name):
                                rows += pq.ParquetFile(part).metadata.num_rows
                                files += 1
                    yield PartitionInfo(record_type, venue, symbol, days[0], days[-1], rows, files)


def record_type_of_array(records: npt.NDArray[np.void]) -> str:
    """The record type name of a record array, from its dtype.

    Raises:
        StoreError: not a 1-D array of a record dtype.
    """
    if records.ndim != 1:
        raise StoreError(f"records must be a 1-D array, got shape {records.shape}")
    for layout in LAYOUTS:
        if dtype_of(layout.name) == records.dtype:
            return layout.name
    raise StoreError(f"dtype {records.dtype} is not the dtype of any record type")
