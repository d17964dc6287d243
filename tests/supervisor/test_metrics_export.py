"""The supervisor serves the session's metrics, its own process gauges included."""

from __future__ import annotations

import os
import signal
import urllib.request

from qk.metrics import discover
from qk.supervisor import Backoff, Supervisor
from qk.supervisor.layout import ProcessState
from tests.supervisor.conftest import child, drive


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _value(text: str, prefix: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, lines)
    return float(lines[0].rsplit(" ", 1)[1])


def test_metrics_port_serves_process_state_and_restarts_then_goes_away(
    session: str, supervisors: list[Supervisor]
) -> None:
    spec = child(
        "feed", "beat_forever", heartbeat_timeout=5.0, backoff=Backoff(initial=0.05), max_restarts=5
    )
    sup = Supervisor([spec], session=session, metrics_port=0)
    supervisors.append(sup)
    sup.start()
    url = sup.metrics_url
    assert url is not None and url.startswith("http://127.0.0.1:")
    drive(sup, lambda: sup.status()[0].state is ProcessState.RUNNING)
    pid = sup.pid("feed")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    drive(
        sup, lambda: sup.status()[0].restarts == 1 and sup.status()[0].state is ProcessState.RUNNING
    )

    text = _scrape(url)
    labels = 'name="feed",process="supervisor"'
    assert _value(text, f"qk_process_restarts{{{labels}}}") == 1
    assert _value(text, f"qk_process_state{{{labels}}}") == int(ProcessState.RUNNING)

    sup.stop()
    assert sup.metrics_url is None
    assert all(info.process != "supervisor" for info in discover(session))
