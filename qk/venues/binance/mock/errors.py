"""Binance error codes and messages as the mock answers them.

Messages follow binance-spot-api-docs ``errors.md`` (spot) and the USD-M futures error-code page;
codes are what clients branch on, so each rejection the mock can produce has one constructor here.
"""

from __future__ import annotations

from typing import Any


class BinanceApiError(Exception):
    """A request the mock refuses: HTTP status, Binance ``code`` and ``msg``.

    ``data`` carries the extra body some endpoints add (cancelReplace reports both halves).
    """

    def __init__(
        self, code: int, msg: str, http_status: int = 400, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.data = data

    def body(self) -> dict[str, Any]:
        """The JSON error body: ``{"code": ..., "msg": ...}`` plus ``data`` when set."""
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def status_unknown(http_status: int) -> BinanceApiError:
    """-1007 with a 5XX status: the injected "accepted, but the answer was lost" fault."""
    return BinanceApiError(
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        http_status,
    )


def too_many_requests(limit: int, interval: str) -> BinanceApiError:
    """-1003 with HTTP 429: the request weight limit was exceeded."""
    return BinanceApiError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per {interval}. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        429,
    )


def ip_banned(until_ms: int) -> BinanceApiError:
    """-1003 with HTTP 418: the IP kept sending after 429s and is banned until ``until_ms``."""
    return BinanceApiError(
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
        418,
    )


def too_many_orders(limit: int, interval: str) -> BinanceApiError:
    """-1015 with HTTP 429: the unfilled order count limit was exceeded."""
    return BinanceApiError(
        -1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429
    )


def invalid_timestamp_window() -> BinanceApiError:
    """-1021: timestamp older than recvWindow."""
    return BinanceApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def invalid_timestamp_ahead() -> BinanceApiError:
    """-1021: timestamp more than 1000 ms ahead of server time."""
    return BinanceApiError(
        -1021, "Timestamp for this request was 1000ms ahead of the server's time."
    )


def invalid_signature() -> BinanceApiError:
    """-1022: the HMAC does not match the request."""
    return BinanceApiError(-1022, "Signature for this request is not valid.")


def bad_api_key_format() -> BinanceApiError:
    """-2014: the ``X-MBX-APIKEY`` header is missing or malformed."""
    return BinanceApiError(-2014, "API-key format invalid.", 401)


def rejected_api_key() -> BinanceApiError:
    """-2015: a well-formed key the mock does not know."""
    return BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def mandatory_param(name: str) -> BinanceApiError:
    """-1102: a required parameter is missing or empty."""
    return BinanceApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def either_param(first: str, second: str) -> BinanceApiError:
    """-1102: one of two parameters must be sent."""
    return BinanceApiError(
        -1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!"
    )


def invalid_parameter(name: str) -> BinanceApiError:
    """-1130: a parameter's value cannot be read."""
    return BinanceApiError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_precision(name: str) -> BinanceApiError:
    """-1111: too many decimals for the asset."""
    return BinanceApiError(-1111, f"Parameter '{name}' has too much precision.")


def invalid_tif() -> BinanceApiError:
    """-1115: unknown or disallowed timeInForce."""
    return BinanceApiError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> BinanceApiError:
    """-1116: unknown order type."""
    return BinanceApiError(-1116, "Invalid orderType.")


def invalid_side() -> BinanceApiError:
    """-1117: side is neither BUY nor SELL."""
    return BinanceApiError(-1117, "Invalid side.")


def bad_symbol() -> BinanceApiError:
    """-1121: the symbol is not listed."""
    return BinanceApiError(-1121, "Invalid symbol.")


def invalid_listen_key() -> BinanceApiError:
    """-1125: the listenKey does not exist (expired or closed)."""
    return BinanceApiError(-1125, "This listenKey does not exist.")


def filter_failure(filter_name: str) -> BinanceApiError:
    """-1013: an exchangeInfo filter refused the order (spot wording)."""
    return BinanceApiError(-1013, f"Filter failure: {filter_name}")


def new_order_rejected(msg: str) -> BinanceApiError:
    """-2010: the matching engine refused the order; ``msg`` says why."""
    return BinanceApiError(-2010, msg)


def cancel_rejected(msg: str) -> BinanceApiError:
    """-2011: the cancel could not be done."""
    return BinanceApiError(-2011, msg)


def no_such_order() -> BinanceApiError:
    """-2013: query for an order the mock never saw."""
    return BinanceApiError(-2013, "Order does not exist.")


# USD-M futures rejections (futures error-code page).


def futures_price_below_min() -> BinanceApiError:
    """-4013."""
    return BinanceApiError(-4013, "Price less than min price.")


def futures_price_tick() -> BinanceApiError:
    """-4014."""
    return BinanceApiError(-4014, "Price not increased by tick size.")


def futures_price_above_max(max_price: str) -> BinanceApiError:
    """-4016 style cap on the limit price."""
    return BinanceApiError(-4016, f"Limit price can't be higher than {max_price}.")


def futures_qty_not_positive() -> BinanceApiError:
    """-4003."""
    return BinanceApiError(-4003, "Quantity less than or equal to zero.")


def futures_qty_below_min() -> BinanceApiError:
    """-4004."""
    return BinanceApiError(-4004, "Quantity less than min quantity.")


def futures_qty_above_max() -> BinanceApiError:
    """-4005."""
    return BinanceApiError(-4005, "Quantity greater than max quantity.")


def futures_qty_step() -> BinanceApiError:
    """-4023."""
    return BinanceApiError(-4023, "Quantity not increased by step size.")


def futures_min_notional(notional: str) -> BinanceApiError:
    """-4164: order notional under the symbol's MIN_NOTIONAL ``notional``."""
    return BinanceApiError(
        -4164,
        f"Order's notional must be no smaller than {notional} (unless you choose reduce only).",
    )


def futures_margin_insufficient() -> BinanceApiError:
    """-2019."""
    return BinanceApiError(-2019, "Margin is insufficient.")


def futures_reduce_only_rejected() -> BinanceApiError:
    """-2022."""
    return BinanceApiError(-2022, "ReduceOnly Order is rejected.")


def futures_would_trigger() -> BinanceApiError:
    """-2021: a conditional order whose trigger is already crossed."""
    return BinanceApiError(-2021, "Order would immediately trigger.")


def futures_use_algo_endpoint() -> BinanceApiError:
    """-4120: conditional types must go to ``/fapi/v1/algoOrder`` since 2025-12-09."""
    return BinanceApiError(
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    )


def futures_no_margin_type_change() -> BinanceApiError:
    """-4046."""
    return BinanceApiError(-4046, "No need to change margin type.")


def futures_no_position_side_change() -> BinanceApiError:
    """-4059."""
    return BinanceApiError(-4059, "No need to change position side.")


def futures_position_side_blocked_by_position() -> BinanceApiError:
    """-4068."""
    return BinanceApiError(-4068, "Position side cannot be changed if there exists position.")


def futures_position_side_blocked_by_orders() -> BinanceApiError:
    """-4067."""
    return BinanceApiError(-4067, "Position side cannot be changed if there exists open orders.")


def futures_invalid_position_side() -> BinanceApiError:
    """-4061: positionSide does not match the position mode."""
    return BinanceApiError(-4061, "Order's position side does not match user's setting.")


def futures_invalid_leverage() -> BinanceApiError:
    """-4028."""
    return BinanceApiError(-4028, "Leverage is not valid")


def futures_post_only_would_take() -> BinanceApiError:
    """-5022: a GTX (post-only) order that would take."""
    return BinanceApiError(
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    )
