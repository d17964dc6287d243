"""Faults the mock can inject, set programmatically or from ``--fault`` flags.

* ``delay_ms``: every REST response waits this long first.
* ``error_after_accept``: the next N order placements are accepted and matched, then answered with
  HTTP 5XX (code -1007, "execution status unknown"); the client must resolve them by querying
  ``origClientOrderId``.
* ``force_429``: the next N REST requests are answered 429 (they count towards the 418 ban).
* ``duplicate_events``: every user-data event is sent twice.
* ``reorder_events``: user-data events are sent in swapped pairs.
* ``drop_after_events``: a user-data connection is closed abruptly after N events
  (``MockBinanceServer.drop_user_connections()`` drops them at once).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """Current fault settings; counters count down as faults fire."""

    delay_ms: int = 0
    error_after_accept: int = 0
    error_status: int = 503
    force_429: int = 0
    duplicate_events: bool = False
    reorder_events: bool = False
    drop_after_events: int | None = None

    def take_error_after_accept(self) -> bool:
        """Consume one 5XX-after-accept if any is armed."""
        if self.error_after_accept > 0:
            self.error_after_accept -= 1
            return True
        return False

    def take_forced_429(self) -> bool:
        """Consume one forced 429 if any is armed."""
        if self.force_429 > 0:
            self.force_429 -= 1
            return True
        return False


class FaultSpecError(ValueError):
    """A ``--fault`` value that cannot be read."""


def parse_fault(spec: str, faults: Faults) -> None:
    """Apply one ``--fault`` spec to ``faults``.

    Forms: ``delay=MS``, ``error-after-accept=N``, ``error-status=CODE``, ``429=N``,
    ``duplicate``, ``reorder``, ``drop-after=N``.
    """
    name, _, value = spec.partition("=")
    flags = {"duplicate": "duplicate_events", "reorder": "reorder_events"}
    counts = {
        "delay": "delay_ms",
        "error-after-accept": "error_after_accept",
        "error-status": "error_status",
        "429": "force_429",
        "drop-after": "drop_after_events",
    }
    if name in flags:
        if value:
            raise FaultSpecError(f"--fault {spec!r}: {name} takes no value")
        setattr(faults, flags[name], True)
        return
    if name not in counts:
        known = ", ".join(sorted([*flags, *(f"{k}=N" for k in counts)]))
        raise FaultSpecError(f"--fault {spec!r}: unknown fault {name!r} (known: {known})")
    try:
        number = int(value)
    except ValueError as exc:
        raise FaultSpecError(f"--fault {spec!r}: {name} needs an integer value") from exc
    if number < 0 or (name == "error-status" and not 500 <= number <= 599):
        raise FaultSpecError(f"--fault {spec!r}: value out of range")
    setattr(faults, counts[name], number)
