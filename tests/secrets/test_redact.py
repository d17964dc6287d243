"""redact_secrets: credential values never reach a rendered log line."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.logs import is_secret_name, redact_text
from qk.secrets import REDACTED, redact_secrets


def test_credential_named_keys_are_blanked_and_others_kept() -> None:
    event: dict[str, Any] = {
        "event": "order.sent",
        "api_key": "AAAA",
        "apiKey": "BBBB",
        "api_secret": "CCCC",
        "signature": "DDDD",
        "X-MBX-APIKEY": "EEEE",
        "passphrase": "FFFF",
        "symbol": "BTCUSDT",
        "quantity": 3,
        "fingerprint": "sha256:abc",
    }

    out = redact_secrets(None, "info", event)

    for name in ("api_key", "apiKey", "api_secret", "signature", "X-MBX-APIKEY", "passphrase"):
        assert out[name] == REDACTED
    assert out["symbol"] == "BTCUSDT" and out["quantity"] == 3
    assert out["fingerprint"] == "sha256:abc" and out["event"] == "order.sent"


def test_nested_structures_are_redacted() -> None:
    event: dict[str, Any] = {
        "event": "http.request",
        "headers": {"X-MBX-APIKEY": "KEYVALUE", "Accept": "json"},
        "params": [("symbol", "BTCUSDT"), {"secretKey": "SECRETVALUE"}],
    }

    out = redact_secrets(None, "info", event)

    assert out["headers"] == {"X-MBX-APIKEY": REDACTED, "Accept": "json"}
    assert out["params"][1] == {"secretKey": REDACTED}
    assert out["params"][0] == ("symbol", "BTCUSDT")


def test_signed_query_strings_keep_everything_but_the_credentials() -> None:
    text = "GET /api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&signature=9f86d081884c"

    assert redact_text(text) == (
        f"GET /api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&signature={REDACTED}"
    )
    assert redact_text("X-MBX-APIKEY: vmPUZE6mv9SD") == f"X-MBX-APIKEY: {REDACTED}"
    assert redact_text("apiKey=abc, side=BUY") == f"apiKey={REDACTED}, side=BUY"


def test_secret_names_are_recognised_across_spellings() -> None:
    for name in ("api_key", "API-KEY", "apiKey", "x-mbx-apikey", "client_secret", "password"):
        assert is_secret_name(name), name
    for name in ("symbol", "key_id", "fingerprint", "keyspace", "venue"):
        assert not is_secret_name(name), name


def _render(**event: Any) -> str:
    stream = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[redact_secrets, structlog.processors.JSONRenderer()],
    )
    logger.info("gateway.request", **event)
    return stream.getvalue()


@settings(max_examples=100, deadline=None)
@given(secret=st.text(alphabet="0123456789ABCDEF", min_size=12, max_size=64))
def test_rendered_log_line_never_contains_the_secret(secret: str) -> None:
    line = _render(
        api_secret=secret,
        url=f"https://api.binance.com/api/v3/order?symbol=X&signature={secret}",
        headers={"X-MBX-APIKEY": secret},
    )

    assert secret not in line
    assert json.loads(line)["api_secret"] == REDACTED
