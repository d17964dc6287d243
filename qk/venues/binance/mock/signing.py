"""HMAC-SHA256 request signing as Binance verifies it.

REST (binance-spot-api-docs rest-api.md "SIGNED Endpoint Examples"): the payload is the query string
concatenated with the request body, exactly as sent and with no separator, minus the ``signature``
parameter. The WebSocket API (web-socket-api.md) signs the request's params sorted by name and
joined as ``k=v&...``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``payload`` keyed by ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _without_signature(raw: str) -> tuple[str, str | None]:
    """Split ``signature=...`` out of a raw ``k=v&k=v`` string, keeping the rest byte for byte."""
    if not raw:
        return "", None
    kept: list[str] = []
    signature: str | None = None
    for item in raw.split("&"):
        if item.startswith("signature="):
            signature = item[len("signature=") :]
        else:
            kept.append(item)
    return "&".join(kept), signature


def rest_payload(query_string: str, body: str) -> tuple[str, str | None]:
    """The REST signature payload (``totalParams``) and the signature the request carried.

    ``query_string`` and ``body`` are the raw, still percent-encoded strings of the request.
    """
    query, sig_q = _without_signature(query_string)
    body_part, sig_b = _without_signature(body)
    return query + body_part, sig_q if sig_q is not None else sig_b


def ws_api_payload(params: Mapping[str, object]) -> str:
    """The WebSocket API signature payload: every param but ``signature``, sorted, url-encoded."""
    items = sorted((k, _ws_value(v)) for k, v in params.items() if k != "signature")
    return urlencode(items)


def _ws_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signature_matches(secret: str, payload: str, signature: str) -> bool:
    """Whether ``signature`` (hex, any case) is the HMAC of ``payload``."""
    expected = hmac_sha256_hex(secret, payload)
    return hmac.compare_digest(expected, signature.lower())
