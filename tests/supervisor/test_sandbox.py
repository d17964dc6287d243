"""qk.sandbox: a sandboxed child cannot exceed its limits, see secrets, or use inherited sockets."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.sandbox import SandboxLimits, is_credential_name, scrub_credentials
from qk.supervisor.launch import load_entry
from qk.supervisor.launch import main as launch_main
from tests.supervisor.conftest import ROOT

ENTRY = "tests.supervisor.children:report_sandbox"


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A listening TCP socket on 127.0.0.1, marked inheritable (what a careless parent leaks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.set_inheritable(True)
        yield sock


def run_child(limits: SandboxLimits | None, leaked_fd: int) -> dict[str, Any]:
    """Run report_sandbox through the launcher with ``leaked_fd`` passed down; return its report."""
    command = [sys.executable, "-m", "qk.supervisor.launch"]
    if limits is not None:
        command += ["--sandbox", limits.to_json()]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "QK_EXCHANGE_API_SECRET": "hunter2",
        "QK_VISIBLE_SETTING": "ok",
    }
    done = subprocess.run(
        [*command, ENTRY],
        cwd=ROOT,
        env=env,
        pass_fds=(leaked_fd,),
        capture_output=True,
        check=True,
        timeout=60,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_an_unsandboxed_child_does_inherit_what_the_parent_leaks(
    listening_socket: socket.socket,
) -> None:
    report = run_child(None, listening_socket.fileno())
    assert listening_socket.fileno() in report["fds"]
    assert "QK_EXCHANGE_API_SECRET" in report["env"]
    assert (report["opened"], report["open_errno"]) == (200, None)


def test_a_sandboxed_child_has_no_inherited_socket_no_secret_and_its_file_limit(
    listening_socket: socket.socket,
) -> None:
    limits = SandboxLimits(open_files=32, cpu_seconds=30)
    report = run_child(limits, listening_socket.fileno())
    assert listening_socket.fileno() not in report["fds"]
    assert "QK_EXCHANGE_API_SECRET" not in report["env"]
    assert "QK_VISIBLE_SETTING" in report["env"]
    assert report["nofile"] == 32
    assert report["open_errno"] == errno.EMFILE
    assert report["opened"] < 32
    assert report["core"] == 0
    assert report["cpu"] == [30, 31]


def test_a_sandboxed_child_cannot_allocate_beyond_its_address_space(
    listening_socket: socket.socket,
) -> None:
    assert run_child(SandboxLimits(), listening_socket.fileno())["allocated_256mib"]
    limited = run_child(SandboxLimits(address_space_bytes=192 * 2**20), listening_socket.fileno())
    assert limited["as"] == 192 * 2**20
    assert not limited["allocated_256mib"]


def test_keep_fds_keeps_an_allowed_descriptor(listening_socket: socket.socket) -> None:
    fd = listening_socket.fileno()
    report = run_child(SandboxLimits(keep_fds=(fd,)), fd)
    assert fd in report["fds"]


@pytest.mark.parametrize(
    "name",
    [
        "BINANCE_API_KEY",
        "binance_api_secret",
        "KITE_ACCESS_TOKEN",
        "DB_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "SSH_AUTH_SOCK",
        "GITHUB_TOKEN",
        "COINDCX_PRIVATE_KEY",
    ],
)
def test_credential_names_are_recognised(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name", ["PATH", "PWD", "HOME", "KEYRING_BACKEND", "QK_SESSION", "LANG", "MONKEY_BUSINESS"]
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert not is_credential_name(name)


# An alphabet that spells KEY, TOKEN, PASSWORD, AUTH... often, so both outcomes are common.
_NAMES = st.text(alphabet="ABCDEHKNOPRSTUWY_", min_size=1, max_size=14)


@given(st.dictionaries(_NAMES, st.just("v"), max_size=12))
def test_scrub_removes_exactly_the_credential_names(environ: dict[str, str]) -> None:
    original = dict(environ)
    removed = scrub_credentials(environ)
    assert removed == sorted(n for n in original if is_credential_name(n))
    assert environ == {n: v for n, v in original.items() if not is_credential_name(n)}


def test_limits_round_trip_through_json_and_bad_json_names_the_problem() -> None:
    limits = SandboxLimits(address_space_bytes=2**30, cpu_seconds=60, open_files=64, keep_fds=(7,))
    assert SandboxLimits.from_json(limits.to_json()) == limits
    with pytest.raises(ValueError, match="not JSON"):
        SandboxLimits.from_json("{")
    with pytest.raises(ValueError, match="JSON object"):
        SandboxLimits.from_json("[1]")
    with pytest.raises(ValueError, match=r"unknown sandbox limit\(s\) \['memory'\]"):
        SandboxLimits.from_json('{"memory": 5}')
    with pytest.raises(ValueError, match="open_files"):
        SandboxLimits(open_files=0)
    with pytest.raises(ValueError, match="too low"):
        SandboxLimits(open_files=4)
    with pytest.raises(ValueError, match="keep_fds"):
        SandboxLimits(keep_fds=(1,))


def test_launcher_refuses_malformed_command_lines() -> None:
    with pytest.raises(ValueError, match="--sandbox needs"):
        launch_main(["--sandbox"])
    with pytest.raises(ValueError, match="nothing to execute"):
        launch_main(["--"])
    with pytest.raises(ValueError, match="expected module:function"):
        launch_main(["a:b", "c"])
    with pytest.raises(ValueError, match=r"not 'package\.module:function'"):
        load_entry("justamodule")
    with pytest.raises(ValueError, match="no callable 'nope'"):
        load_entry("os:nope")
    assert load_entry("os:getpid") is os.getpid
