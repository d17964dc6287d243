"""The instrument master: every process maps one read-only table of instruments by name.

Segment layout (POSIX shared memory ``/qk.<name>.instruments``)::

    0   8s  magic          b"QKINSTRM"
    8   u32 format_version segment format (this module's FORMAT_VERSION)
    12  u32 count          number of instruments N
    16  u32 record_size    bytes per Instrument record
    20  u32 reserved
    24  u64 schema_hash    qk.schemas.SCHEMA_HASH of the writer
    32  u64 content_hash   hash of the N records (same instruments ⇔ same hash)
    40  24 bytes reserved
    64  N Instrument records, the record of id i at index i - 1

The creator writes the records first and the magic last, so a reader racing the creator sees
"not initialised" rather than half a table.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import mmap
import re
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt
import posix_ipc

from qk.instruments.errors import (
    InstrumentMasterExistsError,
    InstrumentMasterLayoutError,
    InstrumentMasterNotFoundError,
    UnknownInstrumentError,
)
from qk.instruments.instrument import (
    INSTRUMENT_DTYPE,
    Instrument,
    instruments_to_array,
)
from qk.schemas.enums import Venue
from qk.schemas.records import SCHEMA_HASH

__all__ = ["FORMAT_VERSION", "MAGIC", "SEGMENT_HEADER_DTYPE", "InstrumentMaster", "segment_name"]

MAGIC = b"QKINSTRM"
FORMAT_VERSION = 1
_DATA_OFFSET = 64

SEGMENT_HEADER_DTYPE: np.dtype[np.void] = np.dtype(
    {
        "names": [
            "magic",
            "format_version",
            "count",
            "record_size",
            "reserved0",
            "schema_hash",
            "content_hash",
        ],
        "formats": ["S8", "<u4", "<u4", "<u4", "<u4", "<u8", "<u8"],
        "offsets": [0, 8, 12, 16, 20, 24, 32],
        "itemsize": _DATA_OFFSET,
    }
)
"""dtype of the 64-byte segment header."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")


def segment_name(name: str) -> str:
    """Shared-memory segment name of the instrument master called ``name``.

    Raises:
        ValueError: ``name`` is empty, too long or has characters other than letters, digits,
            ``_``, ``-`` and ``.``.
    """
    if not _NAME_RE.match(name):
        raise ValueError(
            f"instrument master name {name!r} must be 1-128 characters of letters, digits, "
            "'_', '-' and '.', not starting with '.'"
        )
    return f"/qk.{name}.instruments"


def _content_hash(records: npt.NDArray[np.void]) -> int:
    digest = hashlib.blake2b(records.tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class InstrumentMaster:
    """A read-only table of instruments: id ↔ (venue, symbol) and every contract detail.

    Create and publish it once (:meth:`create`), open it by name from any process
    (:meth:`open`), or build a private one for a backtest (:meth:`from_instruments`). The raw
    records are in :attr:`records` (row ``id - 1``) for hot paths; :meth:`get` and :meth:`find`
    return :class:`Instrument` objects.
    """

    def __init__(
        self,
        name: str,
        records: npt.NDArray[np.void],
        *,
        mapping: mmap.mmap | None = None,
    ) -> None:
        """Wrap an Instrument record array; use :meth:`create`, :meth:`open` or
        :meth:`from_instruments` rather than calling this directly."""
        records.flags.writeable = False
        self._name = name
        self._records: npt.NDArray[np.void] | None = records
        self._mapping = mapping
        self._cache: dict[int, Instrument] = {}
        self._by_key: dict[tuple[Venue, str], int] = {}
        for index, (venue, symbol) in enumerate(
            zip(records["venue"].tolist(), records["symbol"].tolist(), strict=True)
        ):
            self._by_key[(Venue(venue), symbol.decode("ascii"))] = index + 1
        self._content_hash = _content_hash(records)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_instruments(cls, instruments: Iterable[Instrument], name: str = "local") -> Self:
        """Build a private, in-process master (no shared memory), e.g. for a backtest.

        Raises:
            InstrumentDefinitionError: Ids not dense 1..N or a duplicate (venue, symbol).
        """
        return cls(name, instruments_to_array(instruments))

    @classmethod
    def create(cls, name: str, instruments: Iterable[Instrument], *, replace: bool = False) -> Self:
        """Publish instruments in shared memory as ``/qk.<name>.instruments``.

        Args:
            name: Master name (letters, digits, ``_-.``).
            instruments: Instruments with ids exactly 1..N and unique (venue, symbol).
            replace: Unlink an existing segment of that name first (e.g. one left by a
                crashed session) instead of failing.

        Returns:
            The published master; call :meth:`unlink` when the session ends.

        Raises:
            InstrumentMasterExistsError: The segment exists and ``replace`` is false.
            InstrumentDefinitionError: Invalid instruments.
        """
        segment = segment_name(name)
        records = instruments_to_array(instruments)
        size = _DATA_OFFSET + records.nbytes
        if replace:
            cls.unlink_segment(name)
        try:
            shm = posix_ipc.SharedMemory(segment, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError:
            raise InstrumentMasterExistsError(
                f"instrument master {name!r} already exists (shared-memory segment {segment}); "
                "open it, unlink it, or create with replace=True"
            ) from None
        try:
            mapping = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        buffer = np.frombuffer(mapping, dtype=np.uint8)
        table = buffer[_DATA_OFFSET:].view(INSTRUMENT_DTYPE)
        table[:] = records
        header = np.zeros(1, dtype=SEGMENT_HEADER_DTYPE)
        header["format_version"] = FORMAT_VERSION
        header["count"] = len(records)
        header["record_size"] = INSTRUMENT_DTYPE.itemsize
        header["schema_hash"] = SCHEMA_HASH
        header["content_hash"] = _content_hash(records)
        raw_header = header.view(np.uint8)
        buffer[8:_DATA_OFFSET] = raw_header[8:]
        buffer[:8] = np.frombuffer(MAGIC, dtype=np.uint8)  # last: marks the table complete
        del buffer
        return cls(name, table, mapping=mapping)

    @classmethod
    def open(cls, name: str) -> Self:
        """Open a published master read-only.

        Raises:
            InstrumentMasterNotFoundError: Nothing is published under ``name``.
            InstrumentMasterLayoutError: The segment is not an instrument master of this build
                (wrong magic, format version, record size, schema hash or size).
        """
        segment = segment_name(name)
        try:
            shm = posix_ipc.SharedMemory(segment, read_only=True)
        except posix_ipc.ExistentialError:
            raise InstrumentMasterNotFoundError(
                f"no instrument master {name!r}: shared-memory segment {segment} does not exist "
                "(has the process that publishes it started?)"
            ) from None
        try:
            size = shm.size
            if size < _DATA_OFFSET:
                raise InstrumentMasterLayoutError(
                    f"instrument master {name!r} ({segment}) is not initialised yet: {size} "
                    f"bytes, smaller than its {_DATA_OFFSET}-byte header"
                )
            mapping = mmap.mmap(shm.fd, size, prot=mmap.PROT_READ)
        finally:
            shm.close_fd()
        try:
            table = cls._validate(name, segment, mapping)
        except Exception:
            with contextlib.suppress(BufferError):
                mapping.close()
            raise
        return cls(name, table, mapping=mapping)

    @staticmethod
    def _validate(name: str, segment: str, mapping: mmap.mmap) -> npt.NDArray[np.void]:
        # Validate from copies: a numpy view of the mapping kept alive by an exception's
        # traceback would stop the mapping from being closed.
        what = f"instrument master {name!r} ({segment})"
        head = mapping[:_DATA_OFFSET]
        header = np.frombuffer(head, dtype=SEGMENT_HEADER_DTYPE)[0]
        magic = head[:8]
        if magic != MAGIC:
            if magic == bytes(8):
                raise InstrumentMasterLayoutError(f"{what} is not initialised yet (magic is zero)")
            raise InstrumentMasterLayoutError(
                f"{what} has magic {magic!r}, expected {MAGIC!r}: not an instrument master"
            )
        checks = (
            ("format version", int(header["format_version"]), FORMAT_VERSION),
            ("record size", int(header["record_size"]), INSTRUMENT_DTYPE.itemsize),
            ("schema hash", int(header["schema_hash"]), SCHEMA_HASH),
        )
        for label, found, expected in checks:
            if found != expected:
                shown = (hex(found), hex(expected)) if label == "schema hash" else (found, expected)
                raise InstrumentMasterLayoutError(
                    f"{what} has {label} {shown[0]}, this build expects {shown[1]}; it was "
                    "written by a different QuantKubera version: re-publish it"
                )
        count = int(header["count"])
        needed = _DATA_OFFSET + count * INSTRUMENT_DTYPE.itemsize
        if len(mapping) < needed:
            raise InstrumentMasterLayoutError(
                f"{what} holds {len(mapping)} bytes, its header promises {count} instruments "
                f"({needed} bytes)"
            )
        body = np.frombuffer(mapping[_DATA_OFFSET:needed], dtype=INSTRUMENT_DTYPE)
        if _content_hash(body) != int(header["content_hash"]):
            raise InstrumentMasterLayoutError(f"{what}: records do not match their content hash")
        table: npt.NDArray[np.void] = np.frombuffer(
            mapping, dtype=INSTRUMENT_DTYPE, count=count, offset=_DATA_OFFSET
        )
        return table

    # -- lookups ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The master's name."""
        return self._name

    @property
    def segment(self) -> str:
        """The shared-memory segment name (``/qk.<name>.instruments``)."""
        return segment_name(self._name) if self._mapping is not None else ""

    @property
    def records(self) -> npt.NDArray[np.void]:
        """Read-only Instrument record array; the record of id ``i`` is ``records[i - 1]``."""
        if self._records is None:
            raise ValueError(f"instrument master {self._name!r} is closed")
        return self._records

    @property
    def content_hash(self) -> int:
        """u64 hash of the records: two masters with equal hashes hold the same instruments."""
        return self._content_hash

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Instrument]:
        return (self.get(i) for i in range(1, len(self) + 1))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, int):
            return 1 <= item <= len(self)
        return item in self._by_key

    def get(self, instrument_id: int) -> Instrument:
        """Return the instrument with this id.

        Raises:
            UnknownInstrumentError: No such id.
        """
        cached = self._cache.get(instrument_id)
        if cached is not None:
            return cached
        records = self.records
        if isinstance(instrument_id, bool) or not 1 <= instrument_id <= len(records):
            raise UnknownInstrumentError(
                f"no instrument with id {instrument_id!r} in instrument master {self._name!r} "
                f"(ids are 1..{len(records)})"
            )
        instrument = Instrument.from_record(records[instrument_id - 1])
        self._cache[instrument_id] = instrument
        return instrument

    def record(self, instrument_id: int) -> np.void:
        """Return the raw Instrument record of this id (read-only).

        Raises:
            UnknownInstrumentError: No such id.
        """
        self.get(instrument_id)
        row: np.void = self.records[instrument_id - 1]
        return row

    def id_of(self, venue: Venue | str, symbol: str) -> int:
        """Return the id of the instrument ``symbol`` on ``venue``.

        Args:
            venue: A Venue or its name (``"NSE"``).
            symbol: Venue symbol, exactly as stored (``"INFY"``).

        Raises:
            UnknownInstrumentError: No such instrument (the message suggests close matches).
        """
        resolved = _venue(venue)
        instrument_id = self._by_key.get((resolved, symbol))
        if instrument_id is None:
            on_venue = [s for v, s in self._by_key if v == resolved]
            close = difflib.get_close_matches(symbol, on_venue, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownInstrumentError(
                f"no instrument {symbol!r} on venue {resolved.name} in instrument master "
                f"{self._name!r}{hint}"
            )
        return instrument_id

    def find(self, venue: Venue | str, symbol: str) -> Instrument:
        """Return the instrument ``symbol`` on ``venue``.

        Raises:
            UnknownInstrumentError: No such instrument.
        """
        return self.get(self.id_of(venue, symbol))

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Release this process's mapping. Safe to call twice.

        Arrays obtained from :attr:`records` keep the mapping alive until they are dropped.
        """
        self._records = None
        self._cache.clear()
        if self._mapping is not None:
            # A caller may still hold a view; the mapping then goes when that view does.
            with contextlib.suppress(BufferError):
                self._mapping.close()
            self._mapping = None

    def unlink(self) -> None:
        """Remove the shared-memory name (processes that have it open keep their mapping)."""
        self.unlink_segment(self._name)

    @staticmethod
    def unlink_segment(name: str) -> bool:
        """Remove the segment of the master called ``name``, e.g. one left by a crash.

        Returns:
            True if a segment was removed, False if there was none.
        """
        try:
            posix_ipc.unlink_shared_memory(segment_name(name))
        except posix_ipc.ExistentialError:
            return False
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.segment or "in-process"
        count = len(self._records) if self._records is not None else "closed"
        return f"InstrumentMaster({self._name!r}, {where}, instruments={count})"


def _venue(venue: Venue | str) -> Venue:
    if isinstance(venue, Venue):
        return venue
    try:
        return Venue[venue]
    except KeyError:
        raise UnknownInstrumentError(
            f"unknown venue {venue!r}; venues are {', '.join(v.name for v in Venue)}"
        ) from None
