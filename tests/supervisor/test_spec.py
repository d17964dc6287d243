"""Process specs, back-off arithmetic and dependency order."""

from __future__ import annotations

import itertools
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.sandbox import SandboxLimits
from qk.supervisor import Backoff, ProcessSpec, SpecError, child_environment, start_order


@given(
    initial=st.floats(0.0, 10.0),
    factor=st.floats(1.0, 4.0),
    extra=st.floats(0.0, 100.0),
    attempts=st.integers(0, 200),
)
def test_backoff_grows_geometrically_until_its_cap_and_never_shrinks(
    initial: float, factor: float, extra: float, attempts: int
) -> None:
    backoff = Backoff(initial=initial, factor=factor, maximum=initial + extra)
    delays = [backoff.delay(n) for n in range(attempts + 1)]
    assert delays[0] == initial
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert all(d <= backoff.maximum for d in delays)
    for n, delay in enumerate(delays):
        if initial * factor**n < backoff.maximum:
            assert delay == initial * factor**n
        else:
            assert delay == backoff.maximum


@given(jitter=st.floats(0.0, 0.99), draw=st.floats(0.0, 1.0), attempt=st.integers(0, 10))
def test_backoff_jitter_only_shortens_the_delay_within_its_fraction(
    jitter: float, draw: float, attempt: int
) -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=10.0, jitter=jitter)
    plain = Backoff(initial=0.5, factor=2.0, maximum=10.0).delay(attempt)
    delay = backoff.delay(attempt, draw)
    assert plain * (1 - jitter) - 1e-12 <= delay <= plain + 1e-12


def test_backoff_example_values() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=3.0)
    assert [backoff.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(100_000) == 3.0
    assert Backoff(initial=0.0, maximum=3.0).delay(100_000) == 0.0
    with pytest.raises(ValueError, match="attempt"):
        backoff.delay(-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": -1.0}, "initial"),
        ({"initial": 5.0, "maximum": 1.0}, "maximum"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": 1.0}, "jitter"),
    ],
)
def test_bad_backoff_is_refused_naming_the_field(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of entry and argv"),
        ({"entry": "a:b", "argv": ("x",)}, "exactly one of entry and argv"),
        ({"entry": "no_colon"}, "not 'package.module:function'"),
        ({"argv": ()}, "argv is empty"),
        ({"entry": "a:b", "cpus": frozenset()}, "cpus"),
        ({"entry": "a:b", "cpus": frozenset({-1})}, "cpus"),
        ({"entry": "a:b", "max_restarts": -1}, "max_restarts"),
        ({"entry": "a:b", "restart_window": 0.0}, "restart_window"),
        ({"entry": "a:b", "heartbeat_timeout": 0.0}, "heartbeat_timeout"),
        ({"entry": "a:b", "startup_timeout": -1.0}, "startup_timeout"),
        ({"entry": "a:b", "stop_grace": -1.0}, "stop_grace"),
        ({"entry": "a:b", "depends_on": ("p",)}, "depends on itself"),
    ],
)
def test_bad_spec_is_refused_naming_process_and_field(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(SpecError, match=message) as info:
        ProcessSpec(name="p", **kwargs)  # type: ignore[arg-type]
    if "exactly one" not in message:
        assert "'p'" in str(info.value)


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 41, "slash/name"])
def test_bad_process_name_is_refused(name: str) -> None:
    with pytest.raises(SpecError, match="invalid process name"):
        ProcessSpec(name=name, entry="a:b")


def test_commands_go_through_the_launcher_with_the_sandbox_first() -> None:
    limits = SandboxLimits(open_files=64)
    entry = ProcessSpec(name="s", entry="strategies.momentum:main", sandbox=limits)
    argv = ProcessSpec(name="w", argv=("qk-wal", "--dir", "x"))
    assert entry.command() == [
        sys.executable,
        "-m",
        "qk.supervisor.launch",
        "--sandbox",
        limits.to_json(),
        "strategies.momentum:main",
    ]
    assert argv.command() == [
        sys.executable,
        "-m",
        "qk.supervisor.launch",
        "--",
        "qk-wal",
        "--dir",
        "x",
    ]


def spec(name: str, *deps: str) -> ProcessSpec:
    return ProcessSpec(name=name, entry="m:f", depends_on=deps)


def test_start_order_puts_dependencies_first_and_keeps_ties_in_given_order() -> None:
    specs = [spec("strategy", "risk", "feed"), spec("feed"), spec("risk", "wal"), spec("wal")]
    assert [s.name for s in start_order(specs)] == ["feed", "wal", "risk", "strategy"]


def test_start_order_names_unknown_dependency_cycle_and_duplicates() -> None:
    with pytest.raises(SpecError, match="'a' depends on unknown process 'ghost'"):
        start_order([spec("a", "ghost")])
    with pytest.raises(SpecError, match="cycle among processes: a, b"):
        start_order([spec("a", "b"), spec("b", "a"), spec("c")])
    with pytest.raises(SpecError, match="two processes are named 'a'"):
        start_order([spec("a"), spec("a")])


@given(st.data())
def test_start_order_of_any_acyclic_graph_respects_every_edge(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 12))
    names = [f"p{i}" for i in range(count)]
    specs = []
    for i, name in enumerate(names):
        # Edges only towards lower indexes: acyclic by construction; then shuffle the input.
        deps = data.draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        specs.append(spec(name, *deps))
    shuffled = data.draw(st.permutations(specs))
    ordered = [s.name for s in start_order(shuffled)]
    assert sorted(ordered) == sorted(names)
    position = {name: i for i, name in enumerate(ordered)}
    for s in specs:
        assert all(position[d] < position[s.name] for d in s.depends_on)


def test_child_environment_keeps_an_allow_list_without_credentials() -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/qk",
        "LC_ALL": "C.UTF-8",
        "QK_LOG_LEVEL": "info",
        "QK_BINANCE_API_SECRET": "s3cret",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "10000000",
        "AWS_SECRET_ACCESS_KEY": "x",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "RANDOM_TOOL_SETTING": "1",
    }
    s = ProcessSpec(name="feed:binance", entry="m:f", env={"QK_FEED_SYMBOLS": "BTCUSDT"})
    env = child_environment(s, "live", base)
    assert env.pop("QK_SUPERVISOR_PID").isdigit()
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/qk",
        "LC_ALL": "C.UTF-8",
        "QK_LOG_LEVEL": "info",
        "QK_FEED_SYMBOLS": "BTCUSDT",
        "QK_SESSION": "live",
        "QK_PROCESS": "feed:binance",
    }
