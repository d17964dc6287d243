"""Records → one Parquet file for analysis (``qk data export``).

Columns: every field of the record in layout order except the ``reserved*`` padding, with
integers at their own width, ``char[N]`` fields as text (ASCII, NUL padding removed) and array
fields as fixed-size lists; then ``ts_event_utc`` (``timestamp[ns, UTC]``); then, for each
fixed-point field whose scale is known, ``<field>_decimal`` as ``decimal128(38, scale)`` holding the
exact value. Raw integers are kept so that nothing depends on the decimal columns; decimals rather
than floats because a float cannot hold every fixed-point value (0.1 BTC is not a binary float).
Prices and quantities need the instrument's precision (from the store's ``_instrument.json`` or the
instrument master); money fields always have :data:`~qk.schemas.fixed.MONEY_PRECISION` decimals.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from qk.data.columns import field_scales, records_to_table, scale_precision
from qk.data.errors import DataError
from qk.data.store import (
    NO_INSTRUMENT,
    DataStore,
    InstrumentInfo,
    partition_time,
    record_type_of_array,
    sort_records,
)
from qk.data.wal_compaction import wal_records
from qk.schemas.records import dtype_of, layout_of

__all__ = ["export_from_store", "export_from_wal", "export_table", "write_export"]

_NS_PER_DAY = 86_400 * 10**9


def _decimal_array(raw: npt.NDArray[np.int64], scale: int) -> pa.Array:
    # decimal128 stores the unscaled integer as 16 little-endian bytes: the int64, sign-extended.
    words = np.empty((len(raw), 2), dtype=np.int64)
    words[:, 0] = raw
    words[:, 1] = raw >> 63
    return pa.Array.from_buffers(
        pa.decimal128(38, scale), len(raw), [None, pa.py_buffer(words.tobytes())]
    )


def export_table(records: npt.NDArray[np.void], info: InstrumentInfo | None) -> pa.Table:
    """The export table of records of one type (see the module doc)."""
    record_type = record_type_of_array(records)
    stored = records_to_table(records, record_type)
    names: list[str] = []
    columns: list[pa.Array | pa.ChunkedArray] = []
    for field in stored.schema:
        if field.name.startswith("reserved"):
            continue
        column = stored.column(field.name)
        if pa.types.is_fixed_size_binary(field.type):
            texts = np.char.decode(np.asarray(records[field.name]), "ascii", errors="replace")
            column = pa.chunked_array([pa.array(texts.tolist(), type=pa.string())])
        names.append(field.name)
        columns.append(column)
    names.append("ts_event_utc")
    columns.append(
        pa.array(np.asarray(records["ts_event"], dtype=np.int64), type=pa.timestamp("ns", tz="UTC"))
    )
    price = info.price_precision if info else None
    size = info.size_precision if info else None
    for scale in field_scales(record_type):
        precision = scale_precision(scale.kind, price, size)
        if precision is None:
            continue
        values = np.asarray(records[scale.field], dtype=np.int64)
        if values.ndim == 2:
            flat = _decimal_array(values.reshape(-1), precision)
            column = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            column = _decimal_array(values, precision)
        names.append(f"{scale.field}_decimal")
        columns.append(column)
    table = pa.table(dict(zip(names, columns, strict=True)))
    metadata = {
        "qk.record_type": record_type,
        "qk.record_version": str(layout_of(record_type).version),
    }
    if info is not None:
        metadata.update(
            {
                "qk.venue": info.venue,
                "qk.symbol": info.symbol,
                "qk.instrument_id": str(info.instrument_id),
                "qk.price_precision": str(info.price_precision),
                "qk.size_precision": str(info.size_precision),
            }
        )
    return table.replace_schema_metadata(metadata)


def write_export(records: npt.NDArray[np.void], info: InstrumentInfo | None, out: Path) -> int:
    """Write the export table to ``out`` (temporary name, then rename); returns the row count."""
    table = export_table(records, info)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, out)
    return int(table.num_rows)


def export_from_store(
    store: DataStore,
    record_type: str,
    venue: str,
    symbol: str,
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
) -> int:
    """Export one instrument's records for ``start..end`` (UTC dates, inclusive); returns rows.

    Raises:
        DataError: nothing stored for that record type and instrument.
    """
    name = layout_of(record_type).name
    if not store.dates(name, venue, symbol):
        raise DataError(f"{store.root}: no {name} stored for venue {venue!r} instrument {symbol!r}")
    records = store.read(name, venue, symbol, start, end)
    info = None if venue == NO_INSTRUMENT else store.instrument_info(name, venue, symbol)
    return write_export(records, info, out)


def export_from_wal(
    wal_dir: Path,
    record_type: str,
    info: InstrumentInfo | None,
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
) -> int:
    """Export one record type (of one instrument when ``info`` is given) straight from a WAL."""
    name = layout_of(record_type).name
    chunks = [records for kind, records in wal_records(wal_dir) if kind == name]
    records = np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype_of(name))
    if info is not None and "instrument_id" in (records.dtype.names or ()):
        records = records[records["instrument_id"] == info.instrument_id]
    day = partition_time(records) // _NS_PER_DAY
    epoch = date(1970, 1, 1)
    if start is not None:
        records, day = records[day >= (start - epoch).days], day[day >= (start - epoch).days]
    if end is not None:
        records = records[day <= (end - epoch).days]
    return write_export(sort_records(records), info, out)
