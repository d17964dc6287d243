"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qk.supervisor import Supervisor, SystemdNotifier
from tests.supervisor.conftest import child, drive


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket and its NOTIFY_SOCKET value (a path)."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock``."""
    messages = []
    sock.setblocking(False)
    try:
        with contextlib.suppress(BlockingIOError):
            while True:
                messages.append(sock.recv(4096).decode())
    finally:
        sock.settimeout(5)
    return messages


def test_messages_reach_a_path_socket(systemd_socket: tuple[socket.socket, str]) -> None:
    sock, address = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("3/3 running")
    assert notifier.status("degraded")
    assert notifier.watchdog()
    assert notifier.stopping()
    notifier.close()
    assert [sock.recv(4096).decode() for _ in range(4)] == [
        "READY=1\nSTATUS=3/3 running",
        "STATUS=degraded",
        "WATCHDOG=1",
        "STOPPING=1",
    ]


def test_abstract_namespace_address_is_used_for_a_leading_at() -> None:
    name = f"qk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": f"@{name}"})
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"
        notifier.close()


def test_without_systemd_every_call_is_a_no_op() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.ready()


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_pid_only(
    env: dict[str, str], interval: float | None
) -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "/x", **env}).watchdog_interval == interval


def test_supervisor_sends_ready_once_all_run_then_watchdog_then_stopping(
    session: str, supervisors: list[Supervisor], systemd_socket: tuple[socket.socket, str]
) -> None:
    sock, address = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
    specs = [
        child("wal", "beat_forever", heartbeat_timeout=5.0),
        child("feed", "beat_forever", heartbeat_timeout=5.0, depends_on=("wal",)),
    ]
    sup = Supervisor(specs, session=session, notifier=notifier)
    supervisors.append(sup)
    sup.start()
    messages: list[str] = []
    drive(sup, lambda: messages.extend(received(sock)) or any("READY=1" in m for m in messages))
    ready = next(m for m in messages if "READY=1" in m)
    assert ready == "READY=1\nSTATUS=2/2 running"
    assert all("READY=1" not in m for m in messages[messages.index(ready) + 1 :])
    drive(sup, lambda: messages.extend(received(sock)) or messages.count("WATCHDOG=1") >= 3)
    sup.stop()
    assert received(sock)[0].startswith("STOPPING=1")
