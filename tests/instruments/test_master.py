"""The shared-memory instrument master, opened by name from another process."""

from __future__ import annotations

import multiprocessing as mp
from decimal import Decimal

import numpy as np
import posix_ipc
import pytest

from qk.instruments import (
    Instrument,
    InstrumentMaster,
    InstrumentMasterExistsError,
    InstrumentMasterLayoutError,
    InstrumentMasterNotFoundError,
    UnknownInstrumentError,
    segment_name,
)
from qk.instruments.master import MAGIC
from qk.schemas.enums import Venue


def _describe_from_another_process(name: str, queue: mp.Queue[object]) -> None:
    try:
        with InstrumentMaster.open(name) as master:
            infy = master.find("NSE", "INFY")
            option = master.get(master.id_of(Venue.NFO, "NIFTY2580724400CE"))
            queue.put(
                (
                    len(master),
                    infy.instrument_id,
                    str(infy.tick_size),
                    str(option.strike),
                    master.content_hash,
                    master.records.flags.writeable,
                )
            )
    except Exception as exc:  # report to the parent instead of dying silently
        queue.put(repr(exc))


def test_a_spawned_process_opens_the_master_by_name(
    shm_name: str, default_instruments: list[Instrument]
) -> None:
    with InstrumentMaster.create(shm_name, default_instruments) as master:
        context = mp.get_context("spawn")
        queue: mp.Queue[object] = context.Queue()
        child = context.Process(target=_describe_from_another_process, args=(shm_name, queue))
        child.start()
        result = queue.get(timeout=60)
        child.join(timeout=60)
        assert child.exitcode == 0
        assert result == (6, 3, "0.05", "24400.00", master.content_hash, False)
        master.unlink()


def test_open_sees_what_create_published(
    shm_name: str, default_instruments: list[Instrument]
) -> None:
    with InstrumentMaster.create(shm_name, default_instruments) as created:
        with InstrumentMaster.open(shm_name) as opened:
            assert list(opened) == default_instruments
            assert opened.content_hash == created.content_hash
            assert np.array_equal(opened.records, created.records)
            assert opened.segment == f"/qk.{shm_name}.instruments"
        created.unlink()


def test_opened_records_are_read_only(shm_name: str, default_instruments: list[Instrument]) -> None:
    with (
        InstrumentMaster.create(shm_name, default_instruments),
        InstrumentMaster.open(shm_name) as m,
        pytest.raises(ValueError, match="read-only"),
    ):
        m.records["tick_size"][0] = 5


def test_lookups_by_id_and_by_venue_symbol(default_instruments: list[Instrument]) -> None:
    master = InstrumentMaster.from_instruments(default_instruments)
    assert master.id_of("BINANCE", "ETHUSDT") == 2
    assert master.find(Venue.NSE, "RELIANCE").venue_token == 738561
    assert master.get(5).symbol == "NIFTY25AUGFUT"
    assert int(master.record(1)["lot_size"]) == 1
    assert master.get(1) is master.get(1)
    assert 6 in master and 7 not in master and (Venue.NSE, "INFY") in master
    assert master.get(1).lot_size == Decimal("0.00001")


def test_unknown_instruments_raise_naming_what_was_asked(
    default_instruments: list[Instrument],
) -> None:
    master = InstrumentMaster.from_instruments(default_instruments, name="paper")
    with pytest.raises(
        UnknownInstrumentError, match=r"no instrument with id 7 .*'paper' \(ids are 1..6\)"
    ):
        master.get(7)
    with pytest.raises(UnknownInstrumentError, match="id 0"):
        master.record(0)
    with pytest.raises(UnknownInstrumentError, match="'INFY' on venue BINANCE"):
        master.id_of("BINANCE", "INFY")
    with pytest.raises(
        UnknownInstrumentError, match=r"'RELIANC' on venue NSE.*did you mean RELIANCE"
    ):
        master.find("NSE", "RELIANC")
    with pytest.raises(UnknownInstrumentError, match="unknown venue 'NYSE'"):
        master.find("NYSE", "IBM")
    assert issubclass(UnknownInstrumentError, LookupError)


def test_open_without_a_published_master_is_a_clear_error(shm_name: str) -> None:
    with pytest.raises(InstrumentMasterNotFoundError, match=f"no instrument master '{shm_name}'"):
        InstrumentMaster.open(shm_name)


def test_create_twice_fails_unless_replace(
    shm_name: str, default_instruments: list[Instrument]
) -> None:
    first = InstrumentMaster.create(shm_name, default_instruments)
    with pytest.raises(InstrumentMasterExistsError, match="already exists"):
        InstrumentMaster.create(shm_name, default_instruments)
    second = InstrumentMaster.create(shm_name, default_instruments[:2], replace=True)
    with InstrumentMaster.open(shm_name) as opened:
        assert len(opened) == 2
    assert len(first) == 6  # the old mapping lives on in its holders
    first.close()
    second.close()
    assert InstrumentMaster.unlink_segment(shm_name) is True
    assert InstrumentMaster.unlink_segment(shm_name) is False


def _write_segment(name: str, payload: bytes, offset: int = 0) -> None:
    shm = posix_ipc.SharedMemory(segment_name(name))
    try:
        with open(f"/dev/shm{segment_name(name)}", "r+b") as handle:
            handle.seek(offset)
            handle.write(payload)
    finally:
        shm.close_fd()


@pytest.mark.parametrize(
    ("offset", "payload", "message"),
    [
        (0, b"NOTMAGIC", "magic b'NOTMAGIC'"),
        (0, bytes(8), "not initialised yet"),
        (8, (2).to_bytes(4, "little"), "format version 2, this build expects 1"),
        (16, (64).to_bytes(4, "little"), "record size 64"),
        (24, (1).to_bytes(8, "little"), "schema hash 0x1, this build expects 0x"),
        (12, (1000).to_bytes(4, "little"), "promises 1000 instruments"),
        (64 + 100, b"\xff", "content hash"),
    ],
)
def test_a_corrupt_or_foreign_segment_is_refused(
    shm_name: str,
    default_instruments: list[Instrument],
    offset: int,
    payload: bytes,
    message: str,
) -> None:
    with InstrumentMaster.create(shm_name, default_instruments):
        _write_segment(shm_name, payload, offset)
        with pytest.raises(InstrumentMasterLayoutError, match=message):
            InstrumentMaster.open(shm_name)


def test_a_tiny_segment_is_refused(shm_name: str) -> None:
    shm = posix_ipc.SharedMemory(segment_name(shm_name), posix_ipc.O_CREX, size=8)
    shm.close_fd()
    with pytest.raises(InstrumentMasterLayoutError, match="not initialised yet"):
        InstrumentMaster.open(shm_name)


def test_bad_master_names_are_rejected() -> None:
    for bad in ("", "a/b", ".hidden", "x" * 200, "sp ace"):
        with pytest.raises(ValueError, match="instrument master name"):
            segment_name(bad)
    assert MAGIC == b"QKINSTRM"


def test_close_is_idempotent_and_closed_master_says_so(
    shm_name: str, default_instruments: list[Instrument]
) -> None:
    master = InstrumentMaster.create(shm_name, default_instruments)
    master.close()
    master.close()
    with pytest.raises(ValueError, match="closed"):
        _ = master.records
    master.unlink()
