"""Pre-zeroed segment files, prepared ahead of need on a background thread.

A prepared segment reads as zeros and has its blocks allocated, so no commit allocates blocks. The
default reserves them with ``posix_fallocate`` (unwritten extents: zeros without writing them); the
``zero_fill`` mode writes real zeros, so a later ``fdatasync`` converts no extents either, at the cost
of writing every byte twice. A prepared file is written as
``NNN.wal.prep.tmp``, fdatasynced, then renamed to ``NNN.wal.prep``, so a ``.prep`` file is always
complete; the writer turns it into ``NNN.wal`` by writing the header and renaming it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from qk.wal.segment import prepared_name

_ZERO_CHUNK = 1 << 20
_SYNC_EVERY = 4 << 20
_TMP_SUFFIX = ".tmp"


def prepare_segment_file(
    directory: Path, index: int, segment_size: int, zero_fill: bool = False
) -> Path:
    """Create the pre-zeroed file for segment ``index`` (reusing a complete one) and return its path.

    By default the blocks are reserved with ``posix_fallocate``: they read as zeros (unwritten
    extents) and cost no data writes. ``zero_fill`` writes real zeros instead; measured on this
    project's disk (docs/benchmarks.md) that halves sustained append throughput (every byte is written
    twice) without improving commit latency.
    """
    final = directory / prepared_name(index)
    if final.exists():
        if final.stat().st_size == segment_size:
            return final
        final.unlink()
    tmp = final.with_name(final.name + _TMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if not zero_fill:
            os.posix_fallocate(fd, 0, segment_size)
            os.fdatasync(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, final)
            return final
        zeros = bytes(min(_ZERO_CHUNK, segment_size))
        offset = 0
        while offset < segment_size:
            offset += os.pwrite(fd, zeros[: segment_size - offset], offset)
            if offset % _SYNC_EVERY == 0:
                # Keep the dirty backlog small: a WAL commit's fdatasync (and the journal commit it
                # triggers) must not queue behind tens of MiB of zeros.
                os.fdatasync(fd)
        os.fdatasync(fd)
    finally:
        if fd >= 0:
            os.close(fd)
    os.rename(tmp, final)
    return final


def remove_stale_prepared(directory: Path, last_index: int) -> list[Path]:
    """Delete half-written ``.tmp`` files and prepared files for indices already in the log."""
    removed = []
    for path in sorted(directory.glob("*.wal.prep*")):
        stem = path.name.split(".", 1)[0]
        if path.name.endswith(_TMP_SUFFIX) or not stem.isdigit() or int(stem) <= last_index:
            path.unlink()
            removed.append(path)
    return removed


class SegmentPreparer:
    """Prepares the next segment file, on a background thread when ``background`` is set."""

    def __init__(
        self, directory: Path, segment_size: int, background: bool = True, zero_fill: bool = False
    ) -> None:
        self._directory = directory
        self._zero_fill = zero_fill
        self._segment_size = segment_size
        self._background = background
        self._thread: threading.Thread | None = None
        self._index = -1
        self._error: BaseException | None = None

    def request(self, index: int) -> None:
        """Start preparing segment ``index`` (returns at once when running in the background)."""
        self._wait()
        self._index = index
        if not self._background:
            return
        self._thread = threading.Thread(
            target=self._run, args=(index,), name=f"wal-prepare-{index}", daemon=True
        )
        self._thread.start()

    def take(self, index: int) -> Path:
        """The prepared file for segment ``index``, waiting for (or doing) the preparation."""
        if self._index == index:
            self._wait()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
        return prepare_segment_file(self._directory, index, self._segment_size, self._zero_fill)

    def wait(self) -> None:
        """Wait for the preparation in flight, if any."""
        self._wait()

    def close(self) -> None:
        """Wait for a preparation in flight (its file stays for the next writer)."""
        self._wait()

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self, index: int) -> None:
        try:
            prepare_segment_file(self._directory, index, self._segment_size, self._zero_fill)
        except BaseException as exc:  # surfaced to the writer by take()
            self._error = exc
