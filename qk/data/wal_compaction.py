"""WAL → records by type → the store (``qk data compact-wal``).

Each frame's payload is a record when its first two bytes are a known RecordType code
(the header's ``type``, as ``qk wal dump`` reads it) and its version and size match this build's
layout. Frames that are not (free-form payloads, other layout versions) are skipped and counted in
the report, never guessed at. Records are grouped by type and instrument id, the id is looked up
in the instrument list to find the venue/instrument partition (records naming no instrument go to
``venue=NONE/instrument=NONE``), and written with :meth:`DataStore.write`, whose de-duplication
makes compacting the same WAL twice a no-op.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qk.data.errors import DataError
from qk.data.store import DataStore, WriteReport
from qk.instruments import Instrument
from qk.schemas.records import HEADER_SIZE, LAYOUTS, dtype_of
from qk.wal import FrameBatch, WalReader

__all__ = ["CompactionReport", "SkippedFrames", "compact_wal", "wal_records"]

_LAYOUT_BY_ID = {layout.type_id: layout for layout in LAYOUTS}
_FLUSH_RECORDS = 1 << 21


@dataclass
class SkippedFrames:
    """Frames that are not records of this build, by reason, with the first seq seen."""

    count: int = 0
    first_seq: int = 0


@dataclass
class CompactionReport:
    """What a compaction did.

    Attributes:
        frames: Frames read.
        records: Frames that were records.
        writes: One report per (record type, instrument) write.
        skipped: Skipped frames by reason.
        stopped_at: Where the reader stopped at a torn tail (path, offset, reason), or None.
    """

    frames: int = 0
    records: int = 0
    writes: list[WriteReport] = field(default_factory=list)
    skipped: dict[str, SkippedFrames] = field(default_factory=dict)
    stopped_at: tuple[Path, int, str] | None = None

    def skip(self, reason: str, seqs: npt.NDArray[np.uint64]) -> None:
        """Count skipped frames."""
        entry = self.skipped.setdefault(reason, SkippedFrames(0, int(seqs[0])))
        entry.count += len(seqs)


def _classify(
    batch: FrameBatch, report: CompactionReport
) -> Iterator[tuple[str, npt.NDArray[np.void]]]:
    n = len(batch)
    codes = np.zeros(n, dtype=np.int64)
    long_enough = batch.length >= HEADER_SIZE
    offsets = batch.offset.astype(np.intp)
    codes[long_enough] = batch.data[offsets[long_enough]].astype(np.int64) | (
        batch.data[offsets[long_enough] + 1].astype(np.int64) << 8
    )
    if (~long_enough).any():
        report.skip(
            f"payload shorter than the {HEADER_SIZE}-byte record header", batch.seq[~long_enough]
        )
    known = long_enough & np.isin(codes, list(_LAYOUT_BY_ID))
    unknown = long_enough & ~known
    if unknown.any():
        report.skip("first two bytes are not a record type code", batch.seq[unknown])
    for code in np.unique(codes[known]).tolist():
        layout = _LAYOUT_BY_ID[code]
        select = known & (codes == code)
        right_length = select & (batch.length == layout.size)
        if (select & ~right_length).any():
            report.skip(
                f"{layout.name} payload is not {layout.size} bytes",
                batch.seq[select & ~right_length],
            )
        if not right_length.any():
            continue
        sub = dataclasses.replace(
            batch,
            seq=batch.seq[right_length],
            ts_event=batch.ts_event[right_length],
            stream_key=batch.stream_key[right_length],
            offset=batch.offset[right_length],
            length=batch.length[right_length],
        )
        records = sub.records(layout.size).view(dtype_of(layout.name)).reshape(-1)
        valid = (records["version"] == layout.version) & (records["size"] == layout.size)
        if (~valid).any():
            report.skip(
                f"{layout.name} of another layout version or size (this build: v{layout.version})",
                sub.seq[~valid],
            )
        if valid.any():
            yield layout.name, records[valid]


def wal_records(
    wal_dir: Path | str, report: CompactionReport | None = None
) -> Iterator[tuple[str, npt.NDArray[np.void]]]:
    """The WAL's records in log order, as (record type, array) chunks (one per batch and type).

    Raises:
        WalError: a damaged WAL (before its last segment).
    """
    report = report if report is not None else CompactionReport()
    with WalReader(wal_dir) as reader:
        for batch in reader.batches():
            report.frames += len(batch)
            for name, records in _classify(batch, report):
                report.records += len(records)
                yield name, records.copy()
        report.stopped_at = reader.stopped_at


def compact_wal(
    wal_dir: Path | str,
    store: DataStore,
    instruments: Iterable[Instrument],
    *,
    source: str = "the instrument list",
) -> CompactionReport:
    """Write every record of a WAL into the store, by type, instrument and date.

    Args:
        wal_dir: the WAL directory.
        store: the store.
        instruments: the instrument master the WAL's instrument ids refer to.
        source: how to name the instrument list in errors.

    Raises:
        DataError: a record names an instrument id that is not in ``instruments``.
        WalError: a damaged WAL.
    """
    by_id = {i.instrument_id: i for i in instruments}
    report = CompactionReport()
    pending: dict[str, list[npt.NDArray[np.void]]] = {}
    held = 0
    for name, records in wal_records(wal_dir, report):
        pending.setdefault(name, []).append(records)
        held += len(records)
        if held >= _FLUSH_RECORDS:
            _flush(pending, store, by_id, source, report)
            held = 0
    _flush(pending, store, by_id, source, report)
    return report


def _flush(
    pending: dict[str, list[npt.NDArray[np.void]]],
    store: DataStore,
    by_id: dict[int, Instrument],
    source: str,
    report: CompactionReport,
) -> None:
    for name, chunks in pending.items():
        records = np.concatenate(chunks)
        if "instrument_id" not in (records.dtype.names or ()):
            report.writes.append(store.write(records, None))
            continue
        ids = records["instrument_id"]
        for instrument_id in np.unique(ids).tolist():
            group = records[ids == instrument_id]
            if instrument_id == 0:
                report.writes.append(store.write(group, None))
                continue
            instrument = by_id.get(int(instrument_id))
            if instrument is None:
                raise DataError(
                    f"{name} record seq {int(group['seq'][0])} (producer seq) names instrument id "
                    f"{instrument_id}, which is not in {source}"
                )
            report.writes.append(store.write(group, instrument))
    pending.clear()
