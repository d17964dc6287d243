# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Order-book levels and exact decimal decoding in C.

Compiled as ``qk.books._book``. Three things live here because each is a per-level or per-message
hot loop:

* ``L2Levels``: the price levels of one instrument's L2 book. Each side is a pair of sorted int64
  arrays (price key, size) kept *worst first*, so the best level is the last element and the
  updates that dominate real feeds (near the top of the book) move only a few elements.
  Asks are stored with negated prices so both sides sort ascending with the best level last.
* ``parse_decimal`` / ``parse_level_pairs``: exact ASCII decimal → int64 fixed point, with no float
  round trip. Venue JSON carries prices and quantities as decimal strings (``"20377.00"``).
* ``decode_trades``: a batch of JSON trade messages with Binance's field names → TradeEvent records.
  It stops at the first message it cannot decode and returns its index; the Python caller
  (``qk.venues.binance.parse``) then explains exactly what is wrong with that message.
"""

from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint64_t, uint8_t, uint32_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memmove

import numpy as np

from qk.schemas.fixed import FixedPointError, FixedPointOverflowError, PrecisionLossError

from records cimport qk_trade_event_t


cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object text, Py_ssize_t *size) except NULL
    PyObject *PyDict_GetItem(object d, object key)
    long long PyLong_AsLongLongAndOverflow(object value, int *overflow) except? -1


BID = 0
ASK = 1

cdef enum:
    PARSE_OK = 0
    PARSE_SYNTAX = 1
    PARSE_PRECISION = 2
    PARSE_OVERFLOW = 3
    PARSE_TYPE = 4

cdef uint64_t INT64_LIMIT = 9223372036854775807ULL
# Largest trade time in ms whose ns value still fits int64.
cdef int64_t MAX_MS = 9223372036854LL


# ------------------------------------------------------------------------------------------------
# Exact decimal parsing

cdef int parse_fixed(const char *s, Py_ssize_t n, int precision, int64_t *out) noexcept nogil:
    """Parse ``[-]digits[.digits]`` into ``value * 10**precision``; never rounds."""
    cdef Py_ssize_t i = 0
    cdef bint negative = False
    cdef bint seen_dot = False
    cdef uint64_t value = 0
    cdef uint64_t digit
    cdef int digits = 0
    cdef int fraction = 0
    cdef char c
    if n > 0 and s[0] == 45:  # '-'
        negative = True
        i = 1
    while i < n:
        c = s[i]
        i += 1
        if 48 <= c <= 57:
            digits += 1
            digit = <uint64_t>(c - 48)
            if seen_dot:
                if fraction >= precision:
                    # Trailing zeros beyond the precision are not significant; anything else is.
                    if digit != 0:
                        return PARSE_PRECISION
                    continue
                fraction += 1
            if value > (INT64_LIMIT - digit) // 10:
                return PARSE_OVERFLOW
            value = value * 10 + digit
        elif c == 46 and not seen_dot:  # '.'
            seen_dot = True
        else:
            return PARSE_SYNTAX
    if digits == 0:
        return PARSE_SYNTAX
    while fraction < precision:
        if value > INT64_LIMIT // 10:
            return PARSE_OVERFLOW
        value *= 10
        fraction += 1
    out[0] = -<int64_t>value if negative else <int64_t>value
    return PARSE_OK


cdef inline int parse_text(object text, int precision, int64_t *out) except -1:
    cdef Py_ssize_t n
    cdef const char *s
    if type(text) is not str:
        return PARSE_TYPE
    s = PyUnicode_AsUTF8AndSize(text, &n)
    return parse_fixed(s, n, precision, out)


cdef object parse_error(int status, object text, int precision):
    if status == PARSE_PRECISION:
        return PrecisionLossError(
            f"{text!r} has more than {precision} significant decimal place(s); "
            f"it cannot be stored at precision {precision} without rounding"
        )
    if status == PARSE_OVERFLOW:
        return FixedPointOverflowError(f"{text!r} at precision {precision} is outside the int64 range")
    if status == PARSE_TYPE:
        return TypeError(f"expected a decimal string, got {type(text).__name__} {text!r}")
    return FixedPointError(f"{text!r} is not a plain decimal number ([-]digits[.digits])")


cdef inline void check_precision(int precision) except *:
    if not 0 <= precision <= 18:
        raise ValueError(f"precision must be in 0..18, got {precision}")


def parse_decimal(text, int precision):
    """Parse a decimal string exactly into a raw fixed-point integer.

    Args:
        text: ``[-]digits[.digits]``, e.g. ``"20377.00"``.
        precision: Decimal places of the result, 0..18.

    Returns:
        ``value * 10**precision`` as an int.

    Raises:
        PrecisionLossError: Non-zero digits beyond ``precision``.
        FixedPointOverflowError: Outside int64.
        FixedPointError: Not a plain decimal (exponents, spaces and signs other than a leading
            ``-`` are refused).
        TypeError: ``text`` is not a str.
    """
    cdef int64_t raw = 0
    cdef int status
    check_precision(precision)
    status = parse_text(text, precision, &raw)
    if status != PARSE_OK:
        raise parse_error(status, text, precision)
    return raw


def parse_level_pairs(list pairs, int price_precision, int size_precision):
    """Parse ``[[price, size], ...]`` decimal-string pairs into two int64 arrays.

    Args:
        pairs: Venue levels, each a list whose first two items are decimal strings.
        price_precision: Decimals of prices.
        size_precision: Decimals of sizes.

    Returns:
        ``(prices, sizes)``, int64 arrays in the order given.

    Raises:
        ValueError: A level is not a ``[price, size, ...]`` list, or a price is not > 0, or a size
            is negative; the message names the level's index. Fixed-point errors as in
            :func:`parse_decimal`, with the index added.
    """
    cdef Py_ssize_t n = len(pairs)
    cdef Py_ssize_t i
    cdef int status
    cdef object pair
    prices_array = np.empty(n, dtype=np.int64)
    sizes_array = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] prices = prices_array
    cdef int64_t[::1] sizes = sizes_array
    check_precision(price_precision)
    check_precision(size_precision)
    for i in range(n):
        pair = pairs[i]
        if type(pair) is not list or len(<list>pair) < 2:
            raise ValueError(f"level {i}: expected [price, size], got {pair!r}")
        status = parse_text((<list>pair)[0], price_precision, &prices[i])
        if status != PARSE_OK:
            error = parse_error(status, (<list>pair)[0], price_precision)
            raise type(error)(f"level {i} price: {error}")
        status = parse_text((<list>pair)[1], size_precision, &sizes[i])
        if status != PARSE_OK:
            error = parse_error(status, (<list>pair)[1], size_precision)
            raise type(error)(f"level {i} size: {error}")
        if prices[i] <= 0:
            raise ValueError(f"level {i}: price {(<list>pair)[0]!r} must be > 0")
        if sizes[i] < 0:
            raise ValueError(f"level {i}: size {(<list>pair)[1]!r} must be >= 0")
    return prices_array, sizes_array


# ------------------------------------------------------------------------------------------------
# Book levels

cdef struct Side:
    int64_t *keys
    int64_t *sizes
    Py_ssize_t count
    Py_ssize_t capacity


cdef inline Py_ssize_t lower_bound(const Side *side, int64_t key) noexcept nogil:
    """Index of the first key >= ``key`` (``count`` if none)."""
    cdef Py_ssize_t low = 0
    cdef Py_ssize_t high = side.count
    cdef Py_ssize_t middle
    # Most updates hit the top of the book, which is the end of the array: check it first.
    if high > 0 and side.keys[high - 1] < key:
        return high
    while low < high:
        middle = (low + high) >> 1
        if side.keys[middle] < key:
            low = middle + 1
        else:
            high = middle
    return low


cdef int side_reserve(Side *side, Py_ssize_t needed) noexcept nogil:
    cdef Py_ssize_t capacity = side.capacity
    cdef int64_t *keys
    cdef int64_t *sizes
    if needed <= capacity:
        return 0
    while capacity < needed:
        capacity *= 2
    keys = <int64_t *>realloc(side.keys, capacity * sizeof(int64_t))
    if keys == NULL:
        return -1
    side.keys = keys
    sizes = <int64_t *>realloc(side.sizes, capacity * sizeof(int64_t))
    if sizes == NULL:
        return -1
    side.sizes = sizes
    side.capacity = capacity
    return 0


cdef int side_set(Side *side, int64_t key, int64_t size) noexcept nogil:
    """Set the level at ``key`` to ``size`` (0 removes it). Returns -1 only when out of memory."""
    cdef Py_ssize_t i = lower_bound(side, key)
    cdef bint found = i < side.count and side.keys[i] == key
    cdef Py_ssize_t tail
    if size == 0:
        if found:
            tail = side.count - i - 1
            memmove(&side.keys[i], &side.keys[i + 1], tail * sizeof(int64_t))
            memmove(&side.sizes[i], &side.sizes[i + 1], tail * sizeof(int64_t))
            side.count -= 1
        # Deleting a level we do not hold is normal (it lay outside the snapshot's depth).
        return 0
    if found:
        side.sizes[i] = size
        return 0
    if side_reserve(side, side.count + 1) != 0:
        return -1
    tail = side.count - i
    memmove(&side.keys[i + 1], &side.keys[i], tail * sizeof(int64_t))
    memmove(&side.sizes[i + 1], &side.sizes[i], tail * sizeof(int64_t))
    side.keys[i] = key
    side.sizes[i] = size
    side.count += 1
    return 0


cdef class L2Levels:
    """The price levels of an L2 book: sizes by price on each side, in int64 fixed point.

    Side ``0`` (``BID``) holds bids, side ``1`` (``ASK``) asks. All updates are absolute: a size
    replaces the level, size 0 removes it. This class knows nothing of sequencing; see
    ``qk.books.OrderBook``.
    """

    cdef Side sides[2]

    def __cinit__(self, Py_ssize_t initial_capacity=256):
        cdef int s
        if initial_capacity < 1:
            initial_capacity = 1
        for s in range(2):
            self.sides[s].keys = <int64_t *>malloc(initial_capacity * sizeof(int64_t))
            self.sides[s].sizes = <int64_t *>malloc(initial_capacity * sizeof(int64_t))
            self.sides[s].count = 0
            self.sides[s].capacity = initial_capacity
            if self.sides[s].keys == NULL or self.sides[s].sizes == NULL:
                raise MemoryError()

    def __dealloc__(self):
        cdef int s
        for s in range(2):
            free(self.sides[s].keys)
            free(self.sides[s].sizes)

    cdef inline Side *side_of(self, int side) except NULL:
        if side != 0 and side != 1:
            raise ValueError(f"side must be 0 (bid) or 1 (ask), got {side}")
        return &self.sides[side]

    def clear(self):
        """Remove every level on both sides."""
        self.sides[0].count = 0
        self.sides[1].count = 0

    def apply(self, int side, const int64_t[::1] prices, const int64_t[::1] sizes):
        """Apply absolute level updates to one side (size 0 removes the level).

        The whole batch is validated before any level changes, so a bad batch leaves the book
        as it was.

        Args:
            side: 0 for bids, 1 for asks.
            prices: Level prices (raw, > 0).
            sizes: New sizes (raw, >= 0), same length.

        Returns:
            The number of level updates applied.

        Raises:
            ValueError: Lengths differ, a price is not > 0, or a size is negative.
        """
        cdef Side *target = self.side_of(side)
        cdef Py_ssize_t n = prices.shape[0]
        cdef Py_ssize_t i
        cdef Py_ssize_t bad = -1
        cdef int64_t sign = 1 if side == 0 else -1
        cdef int failed = 0
        if sizes.shape[0] != n:
            raise ValueError(f"{n} prices but {sizes.shape[0]} sizes")
        with nogil:
            for i in range(n):
                if prices[i] <= 0 or sizes[i] < 0:
                    bad = i
                    break
            if bad < 0:
                for i in range(n):
                    if side_set(target, sign * prices[i], sizes[i]) != 0:
                        failed = 1
                        break
        if bad >= 0:
            raise ValueError(
                f"level {bad}: price {prices[bad]} must be > 0 and size {sizes[bad]} >= 0"
            )
        if failed:
            raise MemoryError()
        return n

    def level_count(self, int side):
        """Number of levels held on a side."""
        return self.side_of(side).count

    def best(self, int side):
        """Best level of a side as ``(price, size)``, or ``(0, 0)`` when the side is empty."""
        cdef Side *target = self.side_of(side)
        if target.count == 0:
            return (0, 0)
        cdef int64_t key = target.keys[target.count - 1]
        return (key if side == 0 else -key, target.sizes[target.count - 1])

    def is_crossed(self):
        """True when both sides are non-empty and the best bid is >= the best ask."""
        cdef Side *bids = &self.sides[0]
        cdef Side *asks = &self.sides[1]
        if bids.count == 0 or asks.count == 0:
            return False
        return bids.keys[bids.count - 1] >= -asks.keys[asks.count - 1]

    def size_at(self, int side, int64_t price):
        """Size at ``price`` on a side, 0 when there is no such level."""
        cdef Side *target = self.side_of(side)
        cdef int64_t key = price if side == 0 else -price
        cdef Py_ssize_t i = lower_bound(target, key)
        if i < target.count and target.keys[i] == key:
            return target.sizes[i]
        return 0

    def top(self, int side, int64_t[::1] out_prices, int64_t[::1] out_sizes):
        """Copy the best levels of a side, best first, into caller-owned arrays.

        Args:
            side: 0 for bids, 1 for asks.
            out_prices: Receives prices; its length is the number of levels wanted.
            out_sizes: Receives sizes; at least as long as ``out_prices``.

        Returns:
            The number of levels written (fewer when the side holds fewer).
        """
        cdef Side *target = self.side_of(side)
        cdef Py_ssize_t wanted = out_prices.shape[0]
        cdef Py_ssize_t n
        cdef Py_ssize_t i
        cdef int64_t sign = 1 if side == 0 else -1
        if out_sizes.shape[0] < wanted:
            raise ValueError(f"out_sizes holds {out_sizes.shape[0]}, out_prices {wanted}")
        n = wanted if wanted < target.count else target.count
        with nogil:
            for i in range(n):
                out_prices[i] = sign * target.keys[target.count - 1 - i]
                out_sizes[i] = target.sizes[target.count - 1 - i]
        return n


# ------------------------------------------------------------------------------------------------
# Trade messages

cdef str KEY_STREAM = "stream"
cdef str KEY_DATA = "data"
cdef str KEY_EVENT = "e"
cdef str KEY_SYMBOL = "s"
cdef str KEY_PRICE = "p"
cdef str KEY_QUANTITY = "q"
cdef str KEY_TRADE_TIME = "T"
cdef str KEY_MAKER = "m"
cdef str KEY_TRADE_ID = "t"
cdef str KEY_AGG_ID = "a"
cdef str KEY_FIRST_ID = "f"
cdef str KEY_LAST_ID = "l"
cdef str EVENT_TRADE = "trade"
cdef str EVENT_AGG_TRADE = "aggTrade"

cdef uint8_t AGGRESSOR_BUYER = 1
cdef uint8_t AGGRESSOR_SELLER = 2


cdef inline object field(dict d, str key):
    cdef PyObject *item = PyDict_GetItem(d, key)
    if item == NULL:
        return None
    return <object>item


cdef inline bint non_negative_int(object value, int64_t limit, int64_t *out) except -1:
    # bool is a subclass of int: the exact type check keeps true/false out of id fields.
    cdef int overflow = 0
    cdef long long number
    if type(value) is not int:
        return False
    # No Python objects are made here: this runs several times per message.
    number = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow != 0 or number < 0 or number > limit:
        return False
    out[0] = <int64_t>number
    return True


def decode_trades(
    list messages,
    loads,
    dict symbols,
    const int64_t[::1] ts_recv,
    out,
    Py_ssize_t start=0,
):
    """Decode Binance ``trade`` / ``aggTrade`` JSON messages into TradeEvent records.

    Args:
        messages: Raw JSON messages (bytes or str), raw or wrapped as ``{"stream", "data"}``.
        loads: The JSON decoder (``orjson.loads``).
        symbols: Venue symbol → ``(instrument_id, price_precision, size_precision)``.
        ts_recv: Receive time (ns) per message, same length as ``messages``.
        out: TradeEvent record array with at least ``len(messages)`` records from ``start``; the
            header's type, version and size must already be set (``new_records``).
        start: Index in ``out`` of the first record to write.

    Returns:
        ``len(messages)`` when every message decoded, otherwise the index of the first message
        that did not (records before it are written).
    """
    cdef Py_ssize_t n = len(messages)
    cdef Py_ssize_t i
    cdef uint8_t[::1] raw
    cdef qk_trade_event_t *record
    cdef object message
    cdef object data
    cdef object event
    cdef object entry
    cdef object maker
    cdef int64_t trade_time
    cdef int64_t trade_id
    cdef int64_t ignored
    cdef int64_t instrument_id
    cdef int price_precision
    cdef int size_precision
    if ts_recv.shape[0] != n:
        raise ValueError(f"{n} messages but {ts_recv.shape[0]} ts_recv values")
    if out.dtype.itemsize != sizeof(qk_trade_event_t) or out.ndim != 1:
        raise ValueError(f"out must be a 1-D TradeEvent record array, got {out.dtype}")
    if start < 0 or start + n > out.shape[0]:
        raise ValueError(f"out holds {out.shape[0]} records, {n} needed from index {start}")
    if n == 0:
        return 0
    raw = out.view(np.uint8)
    record = (<qk_trade_event_t *>&raw[0]) + start
    for i in range(n):
        try:
            message = loads(messages[i])
        except Exception:
            return i
        if type(message) is not dict:
            return i
        data = field(<dict>message, KEY_DATA)
        if data is not None and PyDict_GetItem(<dict>message, KEY_STREAM) != NULL:
            if type(data) is not dict:
                return i
            message = data
        event = field(<dict>message, KEY_EVENT)
        if event == EVENT_TRADE:
            if not non_negative_int(field(<dict>message, KEY_TRADE_ID), INT64_LIMIT, &trade_id):
                return i
        elif event == EVENT_AGG_TRADE:
            if not non_negative_int(field(<dict>message, KEY_AGG_ID), INT64_LIMIT, &trade_id):
                return i
            if not non_negative_int(field(<dict>message, KEY_FIRST_ID), INT64_LIMIT, &ignored):
                return i
            if not non_negative_int(field(<dict>message, KEY_LAST_ID), INT64_LIMIT, &ignored):
                return i
        else:
            return i
        entry = field(<dict>message, KEY_SYMBOL)
        if type(entry) is not str:
            return i
        entry = field(symbols, entry)
        if entry is None:
            return i
        instrument_id = (<tuple>entry)[0]
        price_precision = (<tuple>entry)[1]
        size_precision = (<tuple>entry)[2]
        if parse_text(field(<dict>message, KEY_PRICE), price_precision, &record.price) != PARSE_OK:
            return i
        if parse_text(field(<dict>message, KEY_QUANTITY), size_precision, &record.quantity) != PARSE_OK:
            return i
        if record.price <= 0 or record.quantity <= 0:
            return i
        if not non_negative_int(field(<dict>message, KEY_TRADE_TIME), MAX_MS, &trade_time):
            return i
        maker = field(<dict>message, KEY_MAKER)
        if maker is True:
            # The buyer was the resting order, so the seller crossed the spread.
            record.aggressor = AGGRESSOR_SELLER
        elif maker is False:
            record.aggressor = AGGRESSOR_BUYER
        else:
            return i
        record.instrument_id = <uint32_t>instrument_id
        record.venue_trade_id = <uint64_t>trade_id
        record.ts_event = trade_time * 1000000
        record.ts_recv = ts_recv[i]
        record += 1
    return n
