"""sd_notify in pure Python: tell systemd we are ready, alive, or stopping.

systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) to a
``Type=notify`` service; each message is one datagram of ``KEY=VALUE`` lines. With ``WatchdogSec=``
it also passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``) and kills the service when ``WATCHDOG=1``
stops arriving; we send it at half that interval, as sd_watchdog_enabled(3) advises. Outside systemd
every call is a no-op.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

__all__ = ["SystemdNotifier"]

log = structlog.get_logger(__name__)


class SystemdNotifier:
    """Sends notifications to the socket named by ``NOTIFY_SOCKET`` (if any)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if raw.startswith("@"):
            # Abstract namespace: a leading NUL byte instead of '@'.
            self._address = b"\0" + raw[1:].encode()
        elif raw.startswith("/"):
            self._address = raw
        self._watchdog_interval = _watchdog_interval(env)
        self._socket: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` messages (half of WATCHDOG_USEC); None without one."""
        return self._watchdog_interval

    def notify(self, message: str) -> bool:
        """Send ``message`` (``KEY=VALUE`` lines). False when not under systemd or the send failed."""
        if self._address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(message.encode(), self._address)
        except OSError as exc:
            log.warning("sd_notify.failed", message=message, error=str(exc))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (with an optional STATUS line): start-up finished."""
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        """``STATUS=text``: a one-line state shown by ``systemctl status``."""
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive. Send every :attr:`watchdog_interval` seconds."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutting down."""
        return self.notify("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def close(self) -> None:
        """Close the socket (reopened on the next message)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    # The watchdog is meant for the main process only; a child that inherited it stays quiet.
    if pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2e6
