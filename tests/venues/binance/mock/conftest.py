"""Shared set-up for the mock Binance tests: a server on a thread (port 0) and clients for it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from binance.client import Client

from qk.venues.binance.mock.server import MockBinanceServer, MockConfig

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "binance"
KEY = "testKey" + "A" * 57
SECRET = "testSecret" + "B" * 54


def fixture(relative: str) -> Any:
    """A JSON fixture under tests/fixtures/binance."""
    return json.loads((FIXTURES / relative).read_text())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def config() -> MockConfig:
    return MockConfig(api_key=KEY, api_secret=SECRET)


@pytest.fixture
def server(config: MockConfig) -> Iterator[MockBinanceServer]:
    with MockBinanceServer(config) as srv:
        yield srv


@pytest.fixture
def client(server: MockBinanceServer) -> Client:
    """python-binance, unchanged, with its base URLs pointed at the mock."""
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = server.base_url + "/api"
    c.FUTURES_URL = server.base_url + "/fapi"
    return c


def signed(
    server: MockBinanceServer,
    method: str,
    path: str,
    params: dict[str, Any],
    *,
    key: str | None = KEY,
    secret: str = SECRET,
    in_body: bool = False,
) -> requests.Response:
    """A request signed independently of the mock's own code (hmac over the exact wire string)."""
    query = urlencode(params)
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    wire = f"{query}&signature={signature}"
    headers = {"X-MBX-APIKEY": key} if key is not None else {}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return requests.request(
            method, server.base_url + path, data=wire, headers=headers, timeout=10
        )
    return requests.request(method, f"{server.base_url}{path}?{wire}", headers=headers, timeout=10)
