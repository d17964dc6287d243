"""Operator commands into a running session's ``control`` ring (``qk kill-switch``).

The ring keeps its single-producer rule with short-lived producers: a command sender takes an
exclusive ``flock`` on ``<tmp>/qk.<session>.control.lock``, becomes the ring's producer
(:meth:`qk.rings.Ring.producer` refuses while another *live* process is recorded as producer),
publishes one ControlCommand and releases the lock. The ring stays open (closing it as producer
would tell its consumers the stream has ended); the next sender takes the producer over once this
process has exited, or at once if it is this same process. ``qk start`` closes the ring for good
when the session stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from qk.rings import ConsumerBusyError, Ring, RingNotFoundError, WaitStrategy
from qk.runtime.plan import control_ring, oms_bell
from qk.runtime.wire import attach, open_bell, pack
from qk.schemas import new_records
from qk.schemas.enums import ControlCommandKind

__all__ = ["ControlError", "close_control", "send_command"]

_RETRY_S: Final = 0.01


class ControlError(RuntimeError):
    """A command could not be delivered (no such session, the ring is busy too long)."""


def _lock_path(session: str) -> Path:
    return Path(tempfile.gettempdir()) / f"qk.{session}.control.lock"


@contextlib.contextmanager
def _locked(session: str) -> Iterator[None]:
    with open(_lock_path(session), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _attach(session: str) -> Ring:
    try:
        return attach(control_ring(session))
    except RingNotFoundError:
        raise ControlError(
            f"session {session!r} is not running (no control ring {session}.control)"
        ) from None


def send_command(
    session: str,
    kind: ControlCommandKind,
    *,
    strategy_id: int = 0,
    detail: str = "",
    timeout: float = 5.0,
) -> int:
    """Publish one ControlCommand to the session; returns its ``command_id``.

    Args:
        session: The running session.
        kind: What to do (KILL_SWITCH, RESUME_TRADING...).
        strategy_id: One strategy, or 0 for all.
        detail: A short ASCII note (at most 40 bytes).
        timeout: Seconds to wait while another sender still holds the producer.

    Raises:
        ControlError: The session is not running, or the ring stayed busy for ``timeout``.
        ValueError: A strategy id or detail that does not fit the record.
    """
    if not 0 <= strategy_id < 2**32:
        raise ValueError(f"strategy id must be 0..{2**32 - 1}, got {strategy_id}")
    note = detail.encode("ascii")
    if len(note) > 40:
        raise ValueError(f"detail must be at most 40 ASCII bytes, got {len(note)}")
    record = new_records("ControlCommand", 1)
    command_id = time.time_ns() ^ os.getpid()
    record["command"] = int(kind)
    record["strategy_id"] = strategy_id
    record["command_id"] = command_id
    record["ts_recv"] = time.time_ns()
    record["detail"] = note
    ring = _attach(session)
    deadline = time.monotonic() + timeout
    while True:
        with _locked(session):
            try:
                producer = ring.producer(WaitStrategy.SPIN_THEN_BLOCK)
            except ConsumerBusyError:
                producer = None
            if producer is not None:
                producer.write_batch(pack([record], ring.slot_size), timeout=timeout)
                bell = open_bell(oms_bell(session))
                if bell is not None:
                    bell.release()
                    bell.close()
                return command_id
        if time.monotonic() > deadline:
            raise ControlError(
                f"control ring of session {session!r} stayed busy for {timeout:g} s "
                "(another command sender is still running)"
            )
        time.sleep(_RETRY_S)


def close_control(session: str) -> None:
    """Close the control ring for good (the session is stopping): its consumers drain it.

    The sender lock file goes too: with the ring closed no sender can use it any more."""
    with contextlib.suppress(ControlError), _locked(session):
        ring = _attach(session)
        with contextlib.suppress(ConsumerBusyError):
            ring.producer()
        ring.close()
    _lock_path(session).unlink(missing_ok=True)
