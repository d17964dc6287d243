# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, always_allow_keywords=False
"""Incremental technical indicators: one C recurrence per indicator, two front ends.

Each indicator's state is a C struct with a ``*_push`` step function (``noexcept nogil``, O(1)
amortised). The cdef class that a strategy calls per tick or per bar owns one struct and calls
the step once per ``update``; the vectorised function for research runs the very same step over
a whole array. Both therefore produce bit-identical sequences: there is one formula, not two.

Values are ``float`` (DESIGN.md §3 allows floats in indicators). Before an indicator is ready
(its documented warm-up), its value is NaN. Non-finite input raises ``ValueError`` rather than
poisoning the state.

Rolling windows (SMA, rolling std, z-score, Bollinger) keep running sums of the values
*shifted* by a reference close to the window mean, as double-double (compensated) sums with exact
products (TwoSum/TwoProduct), and compute ``m2 = sum2 - sum1**2 / n`` in double-double too. The
shift makes ``x - shift`` exact for nearby prices (Sterbenz), and the compensation removes both
the drift of add/remove running sums and the cancellation that ruins ``sum(x**2) - sum(x)**2 / n``
at large offsets (price 50,000 with a variance of 1e-6), including a window whose variance
collapses right after a volatile one (where pandas' rolling variance loses ~1e-8). About every
1024 updates, at a ring wrap, the sums are recomputed from the buffer and the reference is
re-centred, and at once when the window's mean has moved 2**15 standard deviations from the
reference or a huge outlier has just left (rare; O(period) then); amortised, each update stays
O(1). The WMA keeps shifted weighted and plain sums, recomputed at every ring wrap; a weighted
mean has no cancellation to guard.
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport NAN, fabs, isfinite, sqrt
from libc.stdint cimport int64_t
from libc.string cimport memset

import numpy as np

cimport numpy as cnp

cnp.import_array()


# ---------------------------------------------------------------------------------------------
# Shared validation (Python level: runs once per construction or per array, never per update).
# ---------------------------------------------------------------------------------------------

cdef int _check_period(str indicator, str name, object period, int minimum = 1) except -1:
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)):
        raise TypeError(f"{indicator} {name} must be an int, got {type(period).__name__} {period!r}")
    if period < minimum:
        raise ValueError(f"{indicator} {name} must be >= {minimum}, got {period}")
    if period > 100_000_000:
        raise ValueError(f"{indicator} {name} must be <= 100000000, got {period}")
    return 0


cdef int _check_ddof(str indicator, object ddof) except -1:
    if isinstance(ddof, bool) or ddof not in (0, 1):
        raise ValueError(f"{indicator} ddof must be 0 (population) or 1 (sample), got {ddof!r}")
    return 0


cdef object _not_finite(str where, double value):
    return ValueError(f"{where} must be finite, got {value!r}")


cdef cnp.ndarray _as_array(str indicator, str name, object values):
    cdef cnp.ndarray array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{indicator}: {name} must be one-dimensional, got shape {np.shape(array)}")
    return array


cdef int _raise_at(str indicator, str name, Py_ssize_t index, double value) except -1:
    raise ValueError(f"{indicator}: {name}[{index}] must be finite, got {value!r}")


cdef void* _alloc(Py_ssize_t count) except NULL:
    cdef void *buffer = PyMem_Malloc(count * sizeof(double))
    if buffer == NULL:
        raise MemoryError()
    memset(buffer, 0, count * sizeof(double))
    return buffer


# ---------------------------------------------------------------------------------------------
# Double-double accumulators: a sum kept as hi + lo with ~2**-106 relative rounding.
# ---------------------------------------------------------------------------------------------

cdef double SPLITTER = 134217729.0  # 2**27 + 1
cdef Py_ssize_t RECOMPUTE_SPAN = 1024
cdef double RECENTRE_RATIO = 1073741824.0  # 2**30


cdef struct Compensated:
    double hi
    double lo


cdef inline void compensated_add(Compensated *a, double b) noexcept nogil:
    # Knuth's TwoSum: hi + b == s + error exactly. The error collects in the low word without
    # renormalising, so the dependency chain per add is one addition (a cascaded sum).
    cdef double s = a.hi + b
    cdef double b_virtual = s - a.hi
    a.lo += (a.hi - (s - b_virtual)) + (b - b_virtual)
    a.hi = s


cdef inline double product_error(double a, double b, double p) noexcept nogil:
    # Dekker's TwoProduct: a * b == p + (returned error) exactly, for p = fl(a * b). Splitting
    # avoids fma(), which is a libm call unless the build targets an FMA-capable CPU.
    cdef double c = SPLITTER * a
    cdef double a_high = c - (c - a)
    cdef double a_low = a - a_high
    c = SPLITTER * b
    cdef double b_high = c - (c - b)
    cdef double b_low = b - b_high
    return ((a_high * b_high - p) + a_high * b_low + a_low * b_high) + a_low * b_low


cdef inline void compensated_add_square(Compensated *a, double d, double sign) noexcept nogil:
    # Adds sign * d * d with the product's rounding error kept in the low word.
    cdef double p = d * d
    cdef double e = product_error(d, d, p)
    compensated_add(a, sign * p)
    a.lo += sign * e


# ---------------------------------------------------------------------------------------------
# Rolling window: ring buffer + shifted running sums (SMA, rolling std, z-score, Bollinger).
# ---------------------------------------------------------------------------------------------

cdef struct Window:
    double *buffer          # the last `period` raw values; buffer[position] is the oldest once full
    Py_ssize_t period
    Py_ssize_t position     # the slot the next value goes into
    int64_t count           # values since reset
    double shift            # reference subtracted before summing (see module docstring)
    Compensated sum1        # sum of (x - shift) over the window
    Compensated sum2        # sum of (x - shift)**2 over the window
    int64_t wraps           # ring wraps since the last recomputation
    int64_t wraps_per_recompute
    double reciprocal       # 1 / period


cdef inline void window_open(Window *w, Py_ssize_t period) noexcept nogil:
    # Recompute about every RECOMPUTE_SPAN updates, and at a wrap, where the buffer is in order.
    w.period = period
    w.reciprocal = 1.0 / period
    w.wraps_per_recompute = (RECOMPUTE_SPAN + period - 1) // period


cdef inline void window_clear(Window *w) noexcept nogil:
    w.position = 0
    w.wraps = 0
    w.count = 0
    w.shift = 0.0
    w.sum1.hi = 0.0
    w.sum1.lo = 0.0
    w.sum2.hi = 0.0
    w.sum2.lo = 0.0


cdef inline void window_recompute(Window *w) noexcept nogil:
    # Only on a full window (every slot holds a value of it); the sums do not depend on order.
    # Re-centre on its mean.
    cdef Py_ssize_t i
    cdef double mean = 0.0, d
    for i in range(w.period):
        mean += w.buffer[i]
    mean /= w.period
    w.shift = mean
    w.sum1.hi = 0.0
    w.sum1.lo = 0.0
    w.sum2.hi = 0.0
    w.sum2.lo = 0.0
    for i in range(w.period):
        d = w.buffer[i] - mean
        compensated_add(&w.sum1, d)
        compensated_add_square(&w.sum2, d, 1.0)


cdef inline void two_sum_into(double *hi, double *lo, double b) noexcept nogil:
    # compensated_add on locals, so that the compiler keeps the sums in registers.
    cdef double s = hi[0] + b
    cdef double b_virtual = s - hi[0]
    lo[0] += (hi[0] - (s - b_virtual)) + (b - b_virtual)
    hi[0] = s


cdef inline void window_push(Window *w, double x, bint squares) noexcept nogil:
    # `squares` is a constant at every call site: the SMA does not pay for the sum of squares.
    cdef double shift = w.shift, d, p
    cdef double s1_hi = w.sum1.hi, s1_lo = w.sum1.lo, s2_hi = w.sum2.hi, s2_lo = w.sum2.lo
    if w.count == 0:
        shift = x
        w.shift = x
    if w.count >= w.period:
        # The same rounded deviation that entered leaves: the sums stay consistent.
        d = w.buffer[w.position] - shift
        two_sum_into(&s1_hi, &s1_lo, -d)
        if squares:
            p = d * d
            two_sum_into(&s2_hi, &s2_lo, -p)
            s2_lo -= product_error(d, d, p)
    d = x - shift
    two_sum_into(&s1_hi, &s1_lo, d)
    if squares:
        p = d * d
        two_sum_into(&s2_hi, &s2_lo, p)
        s2_lo += product_error(d, d, p)
    w.sum1.hi = s1_hi
    w.sum1.lo = s1_lo
    w.sum2.hi = s2_hi
    w.sum2.lo = s2_lo
    w.buffer[w.position] = x
    w.count += 1
    w.position += 1
    if w.position == w.period:
        w.position = 0
        w.wraps += 1
        if w.wraps == w.wraps_per_recompute:
            w.wraps = 0
            window_recompute(w)
            return
    # Re-centre at once when the shifted sums have become a poor representation of the window:
    # sum2 dwarfs the spread once the mean has moved 2**15 standard deviations from the shift,
    # or right after a huge outlier has left (double-double keeps ~2**-106 of the largest term
    # seen, not of the spread). Rare on real data; O(period) when it happens.
    if squares and w.count >= w.period and (
            s2_hi > RECENTRE_RATIO * (s2_hi - s1_hi * s1_hi * w.reciprocal)):
        window_recompute(w)


cdef inline double window_offset(const Window *w) noexcept nogil:
    """Mean minus shift."""
    return (w.sum1.hi + w.sum1.lo) / w.period


cdef inline double window_mean(const Window *w) noexcept nogil:
    return w.shift + window_offset(w)


cdef inline double window_variance(const Window *w, int ddof) noexcept nogil:
    # m2 = sum2 - sum1**2 / n, in double-double: when the window's mean sits far from the shift
    # compared with its spread, the two terms nearly cancel and plain doubles would lose it all.
    # The low words need no renormalising: they are tiny next to m2, and so is their square.
    cdef double h = w.sum1.hi, l = w.sum1.lo
    cdef double square = h * h
    cdef double square_error = product_error(h, h, square) + 2.0 * h * l
    # Any quotient works if the remainder square - quotient * n is exact (TwoProduct), so the
    # division becomes a multiplication by the precomputed reciprocal.
    cdef double quotient = square * w.reciprocal
    cdef double back = quotient * w.period
    cdef double remainder = (square - back) - product_error(quotient, <double>w.period, back)
    cdef double quotient_low = (remainder + square_error) * w.reciprocal
    cdef double m2 = (w.sum2.hi - quotient) + (w.sum2.lo - quotient_low)
    if m2 < 0.0:  # rounding on a constant window
        m2 = 0.0
    return m2 / (w.period - ddof)


# ---------------------------------------------------------------------------------------------
# Step functions. Each returns the indicator's primary value (NaN until ready).
# ---------------------------------------------------------------------------------------------

cdef struct EmaState:
    double alpha
    double value
    int64_t period
    int64_t count


cdef inline void ema_clear(EmaState *s) noexcept nogil:
    s.value = NAN
    s.count = 0


cdef inline double ema_push(EmaState *s, double x) noexcept nogil:
    # pandas ewm(adjust=False): seeded with the first value, y += alpha * (x - y) afterwards.
    if s.count == 0:
        s.value = x
    else:
        s.value += s.alpha * (x - s.value)
    s.count += 1
    return s.value if s.count >= s.period else NAN


cdef inline double sma_push(Window *w, double x) noexcept nogil:
    window_push(w, x, False)
    return window_mean(w) if w.count >= w.period else NAN


cdef inline double std_push(Window *w, int ddof, double x) noexcept nogil:
    window_push(w, x, True)
    return sqrt(window_variance(w, ddof)) if w.count >= w.period else NAN


cdef inline double zscore_push(Window *w, int ddof, double x) noexcept nogil:
    cdef double std
    window_push(w, x, True)
    if w.count < w.period:
        return NAN
    std = sqrt(window_variance(w, ddof))
    if std == 0.0:
        return 0.0  # every value in the window equals x, so x is exactly at the mean
    # x - mean == (x - shift) - sum1 / n. The shift may lie far from the mean (it is re-centred
    # only every ~1024 updates), so sum1 / n is formed in double-double as in window_variance.
    cdef double quotient = w.sum1.hi * w.reciprocal
    cdef double back = quotient * w.period
    cdef double remainder = (w.sum1.hi - back) - product_error(quotient, <double>w.period, back)
    cdef double quotient_low = (remainder + w.sum1.lo) * w.reciprocal
    return (((x - w.shift) - quotient) - quotient_low) / std


cdef struct BollingerOut:
    double middle
    double upper
    double lower


cdef inline void bollinger_push(Window *w, int ddof, double k, double x,
                                BollingerOut *out) noexcept nogil:
    cdef double middle, width
    window_push(w, x, True)
    if w.count < w.period:
        out.middle = NAN
        out.upper = NAN
        out.lower = NAN
        return
    middle = window_mean(w)
    width = k * sqrt(window_variance(w, ddof))
    out.middle = middle
    out.upper = middle + width
    out.lower = middle - width


cdef struct WmaState:
    double *buffer
    Py_ssize_t period
    Py_ssize_t position
    int64_t count
    double shift
    double plain_sum        # sum of (x - shift) over the window
    double weighted_sum     # sum of weight * (x - shift); the newest value weighs `count` (<= period)
    double divisor          # period * (period + 1) / 2


cdef inline void wma_clear(WmaState *s) noexcept nogil:
    s.position = 0
    s.count = 0
    s.shift = 0.0
    s.plain_sum = 0.0
    s.weighted_sum = 0.0


cdef inline void wma_recompute(WmaState *s) noexcept nogil:
    # The ring has just wrapped: buffer[0] is the oldest (weight 1), buffer[n - 1] the newest.
    cdef Py_ssize_t i
    cdef double mean = 0.0, d, plain = 0.0, weighted = 0.0
    for i in range(s.period):
        mean += s.buffer[i]
    mean /= s.period
    for i in range(s.period):
        d = s.buffer[i] - mean
        plain += d
        weighted += (i + 1) * d
    s.shift = mean
    s.plain_sum = plain
    s.weighted_sum = weighted


cdef inline double wma_push(WmaState *s, double x) noexcept nogil:
    cdef double d
    if s.count == 0:
        s.shift = x
    d = x - s.shift
    if s.count >= s.period:
        # Every weight drops by one (the oldest to zero, leaving), and x enters with weight n.
        s.weighted_sum += s.period * d - s.plain_sum
        s.plain_sum += d - (s.buffer[s.position] - s.shift)
    else:
        s.weighted_sum += (s.count + 1) * d
        s.plain_sum += d
    s.buffer[s.position] = x
    s.count += 1
    s.position += 1
    if s.position == s.period:
        s.position = 0
        wma_recompute(s)
    return s.shift + s.weighted_sum / s.divisor if s.count >= s.period else NAN


cdef struct WilderState:
    # RSI: averages of gains and losses. ATR: `average_gain` holds the average true range.
    int64_t period
    int64_t count
    double previous
    double average_gain
    double average_loss


cdef inline void wilder_clear(WilderState *s) noexcept nogil:
    s.count = 0
    s.previous = NAN
    s.average_gain = 0.0
    s.average_loss = 0.0


cdef inline double rsi_push(WilderState *s, double x) noexcept nogil:
    cdef double change, gain, loss, total
    if s.count == 0:
        s.previous = x
        s.count = 1
        return NAN
    change = x - s.previous
    s.previous = x
    gain = change if change > 0.0 else 0.0
    loss = -change if change < 0.0 else 0.0
    if s.count <= s.period:
        # Seeding: the first average is the plain mean of the first `period` changes.
        s.average_gain += gain
        s.average_loss += loss
        if s.count == s.period:
            s.average_gain /= s.period
            s.average_loss /= s.period
    else:
        s.average_gain = (s.average_gain * (s.period - 1) + gain) / s.period
        s.average_loss = (s.average_loss * (s.period - 1) + loss) / s.period
    s.count += 1
    if s.count <= s.period:
        return NAN
    total = s.average_gain + s.average_loss
    if total == 0.0:
        return 50.0  # no movement over the whole smoothing memory: neither side dominates
    return 100.0 * s.average_gain / total


cdef inline double atr_push(WilderState *s, double high, double low, double close) noexcept nogil:
    cdef double true_range = high - low, gap
    if s.count > 0:
        gap = fabs(high - s.previous)
        if gap > true_range:
            true_range = gap
        gap = fabs(low - s.previous)
        if gap > true_range:
            true_range = gap
    s.previous = close
    s.count += 1
    if s.count <= s.period:
        s.average_gain += true_range
        if s.count == s.period:
            s.average_gain /= s.period
    else:
        s.average_gain = (s.average_gain * (s.period - 1) + true_range) / s.period
    return s.average_gain if s.count >= s.period else NAN


cdef struct MacdState:
    EmaState fast
    EmaState slow
    EmaState signal
    int64_t warmup
    double line
    double signal_value
    double histogram


cdef inline void macd_clear(MacdState *s) noexcept nogil:
    ema_clear(&s.fast)
    ema_clear(&s.slow)
    ema_clear(&s.signal)
    s.line = NAN
    s.signal_value = NAN
    s.histogram = NAN


cdef inline double macd_push(MacdState *s, double x) noexcept nogil:
    # As pandas: line = ewm(fast) - ewm(slow); signal = ewm(signal) of the line from its start.
    cdef double line
    ema_push(&s.fast, x)
    ema_push(&s.slow, x)
    line = s.fast.value - s.slow.value
    ema_push(&s.signal, line)
    if s.signal.count < s.warmup:
        s.line = NAN
        s.signal_value = NAN
        s.histogram = NAN
    else:
        s.line = line
        s.signal_value = s.signal.value
        s.histogram = line - s.signal.value
    return s.line


cdef struct VwapState:
    int64_t session_ns      # 0: one session forever
    int64_t session_offset_ns
    int64_t session
    bint started
    double price_volume
    double volume


cdef inline void vwap_clear(VwapState *s) noexcept nogil:
    s.session = 0
    s.started = False
    s.price_volume = 0.0
    s.volume = 0.0


cdef inline int64_t floor_div(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a // b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline double vwap_push(VwapState *s, double price, double quantity,
                             int64_t ts_event) noexcept nogil:
    cdef int64_t session
    if s.session_ns > 0:
        session = floor_div(ts_event - s.session_offset_ns, s.session_ns)
        if not s.started or session != s.session:
            s.session = session
            s.started = True
            s.price_volume = 0.0
            s.volume = 0.0
    s.price_volume += price * quantity
    s.volume += quantity
    return s.price_volume / s.volume if s.volume > 0.0 else NAN


# ---------------------------------------------------------------------------------------------
# Incremental objects (per tick or per bar).
# ---------------------------------------------------------------------------------------------

cdef class EMA:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the first value.

    Identical to pandas ``Series.ewm(span=period, adjust=False).mean()``. The recurrence starts
    at the first update; the value is NaN until ``period`` updates have been seen (``warmup``).

    Args:
        period: Span of the average, >= 1.

    Raises:
        ValueError: ``period`` < 1.
        TypeError: ``period`` is not an int.
    """

    cdef EmaState state

    def __init__(self, period):
        _check_period("EMA", "period", period)
        self.state.period = period
        self.state.alpha = 2.0 / (period + 1.0)
        ema_clear(&self.state)

    def update(self, double value):
        """Add one value and return the EMA (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("EMA.update: value", value)
        return ema_push(&self.state, value)

    def reset(self):
        """Forget every value; the indicator warms up again."""
        ema_clear(&self.state)

    @property
    def value(self):
        """The current EMA, NaN before ready."""
        return self.state.value if self.state.count >= self.state.period else NAN

    @property
    def ready(self):
        """True once ``warmup`` updates have been seen."""
        return self.state.count >= self.state.period

    @property
    def warmup(self):
        """Updates needed before the value is ready: ``period``."""
        return self.state.period

    @property
    def period(self):
        return self.state.period

    @property
    def alpha(self):
        """The smoothing factor, ``2 / (period + 1)``."""
        return self.state.alpha

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.state.count


cdef class _WindowIndicator:
    """Base of the indicators over a rolling window of the last ``period`` values."""

    cdef Window window
    cdef int degrees  # ddof

    def __dealloc__(self):
        PyMem_Free(self.window.buffer)
        self.window.buffer = NULL

    cdef int _open(self, str indicator, object period, int minimum) except -1:
        _check_period(indicator, "period", period, minimum)
        self.window.buffer = <double*>_alloc(period)
        window_open(&self.window, period)
        window_clear(&self.window)
        return 0

    def reset(self):
        """Forget every value; the indicator warms up again."""
        window_clear(&self.window)

    @property
    def ready(self):
        """True once ``warmup`` (= ``period``) updates have been seen."""
        return self.window.count >= self.window.period

    @property
    def warmup(self):
        """Updates needed before the value is ready: ``period``."""
        return self.window.period

    @property
    def period(self):
        return self.window.period

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.window.count


cdef class SMA(_WindowIndicator):
    """Simple moving average of the last ``period`` values (pandas ``rolling(period).mean()``).

    Args:
        period: Window length, >= 1.

    Raises:
        ValueError: ``period`` < 1.
    """

    cdef double current

    def __init__(self, period):
        self._open("SMA", period, 1)
        self.current = NAN

    def update(self, double value):
        """Add one value and return the SMA (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("SMA.update: value", value)
        self.current = sma_push(&self.window, value)
        return self.current

    def reset(self):
        """Forget every value; the indicator warms up again."""
        window_clear(&self.window)
        self.current = NAN

    @property
    def value(self):
        """The current SMA, NaN before ready."""
        return self.current


cdef class RollingStd(_WindowIndicator):
    """Standard deviation of the last ``period`` values (pandas ``rolling(period).std(ddof)``).

    Args:
        period: Window length, >= ``ddof + 1``.
        ddof: 1 for the sample standard deviation (pandas' default), 0 for the population one.

    Raises:
        ValueError: Bad ``period`` or ``ddof``.
    """

    cdef double current

    def __init__(self, period, ddof=1):
        _check_ddof("RollingStd", ddof)
        self._open("RollingStd", period, ddof + 1)
        self.degrees = ddof
        self.current = NAN

    def update(self, double value):
        """Add one value and return the standard deviation (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("RollingStd.update: value", value)
        self.current = std_push(&self.window, self.degrees, value)
        return self.current

    def reset(self):
        """Forget every value; the indicator warms up again."""
        window_clear(&self.window)
        self.current = NAN

    @property
    def value(self):
        """The current standard deviation, NaN before ready."""
        return self.current

    @property
    def mean(self):
        """Mean of the current window, NaN before ready."""
        return window_mean(&self.window) if self.window.count >= self.window.period else NAN

    @property
    def ddof(self):
        return self.degrees


cdef class ZScore(_WindowIndicator):
    """Z-score of the newest value against the last ``period`` values, the newest included.

    ``(x - mean) / std`` with ``std`` as :class:`RollingStd`; 0.0 when the window is constant
    (``std == 0``: then ``x`` equals the mean).

    Args:
        period: Window length, >= ``ddof + 1``.
        ddof: 1 for the sample standard deviation (pandas' default), 0 for the population one.

    Raises:
        ValueError: Bad ``period`` or ``ddof``.
    """

    cdef double current

    def __init__(self, period, ddof=1):
        _check_ddof("ZScore", ddof)
        self._open("ZScore", period, ddof + 1)
        self.degrees = ddof
        self.current = NAN

    def update(self, double value):
        """Add one value and return its z-score (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("ZScore.update: value", value)
        self.current = zscore_push(&self.window, self.degrees, value)
        return self.current

    def reset(self):
        """Forget every value; the indicator warms up again."""
        window_clear(&self.window)
        self.current = NAN

    @property
    def value(self):
        """The current z-score, NaN before ready."""
        return self.current

    @property
    def ddof(self):
        return self.degrees


cdef class BollingerBands(_WindowIndicator):
    """Bollinger bands: ``middle`` = SMA, ``upper``/``lower`` = middle ± ``k`` · rolling std.

    The standard deviation is the *sample* one (``ddof=1``) by default, as pandas
    ``rolling(period).std()``; pass ``ddof=0`` for the population one (Bollinger's original).
    ``update`` returns and ``value`` is the middle band; ``upper`` and ``lower`` are properties.

    Args:
        period: Window length, >= ``ddof + 1``.
        k: Band width in standard deviations, finite and >= 0.
        ddof: 1 (sample, default) or 0 (population).

    Raises:
        ValueError: Bad ``period``, ``k`` or ``ddof``.
    """

    cdef double width
    cdef BollingerOut out

    def __init__(self, period, double k=2.0, ddof=1):
        _check_ddof("BollingerBands", ddof)
        if not isfinite(k) or k < 0.0:
            raise ValueError(f"BollingerBands k must be finite and >= 0, got {k!r}")
        self._open("BollingerBands", period, ddof + 1)
        self.degrees = ddof
        self.width = k
        self.out.middle = NAN
        self.out.upper = NAN
        self.out.lower = NAN

    def update(self, double value):
        """Add one value and return the middle band (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("BollingerBands.update: value", value)
        bollinger_push(&self.window, self.degrees, self.k, value, &self.out)
        return self.out.middle

    def reset(self):
        """Forget every value; the indicator warms up again."""
        window_clear(&self.window)
        self.out.middle = NAN
        self.out.upper = NAN
        self.out.lower = NAN

    @property
    def value(self):
        """The middle band, NaN before ready."""
        return self.out.middle

    @property
    def middle(self):
        return self.out.middle

    @property
    def upper(self):
        return self.out.upper

    @property
    def lower(self):
        return self.out.lower

    @property
    def k(self):
        return self.width

    @property
    def ddof(self):
        return self.degrees


cdef class WMA:
    """Linearly weighted moving average: weights 1..``period``, the newest value weighs most.

    ``sum(i * x[t - period + i]) / (period * (period + 1) / 2)`` for ``i`` in 1..period.

    Args:
        period: Window length, >= 1.

    Raises:
        ValueError: ``period`` < 1.
    """

    cdef WmaState state
    cdef double current

    def __init__(self, period):
        _check_period("WMA", "period", period)
        self.state.buffer = <double*>_alloc(period)
        self.state.period = period
        self.state.divisor = period * (period + 1.0) / 2.0
        wma_clear(&self.state)
        self.current = NAN

    def __dealloc__(self):
        PyMem_Free(self.state.buffer)
        self.state.buffer = NULL

    def update(self, double value):
        """Add one value and return the WMA (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("WMA.update: value", value)
        self.current = wma_push(&self.state, value)
        return self.current

    def reset(self):
        """Forget every value; the indicator warms up again."""
        wma_clear(&self.state)
        self.current = NAN

    @property
    def value(self):
        """The current WMA, NaN before ready."""
        return self.current

    @property
    def ready(self):
        """True once ``warmup`` (= ``period``) updates have been seen."""
        return self.state.count >= self.state.period

    @property
    def warmup(self):
        """Updates needed before the value is ready: ``period``."""
        return self.state.period

    @property
    def period(self):
        return self.state.period

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.state.count


cdef class RSI:
    """Relative strength index with Wilder's smoothing, in 0..100.

    The first ``period`` price changes seed plain averages of gains and losses; after that
    ``average = (average * (period - 1) + new) / period``. ``RSI = 100 * gain / (gain + loss)``
    (the same as ``100 - 100 / (1 + gain / loss)``), 100 when there were only gains, and 50 when
    there was no change at all. Ready after ``period + 1`` prices (``warmup``).

    Args:
        period: Smoothing period, >= 1 (14 is Wilder's).

    Raises:
        ValueError: ``period`` < 1.
    """

    cdef WilderState state
    cdef double current

    def __init__(self, period=14):
        _check_period("RSI", "period", period)
        self.state.period = period
        wilder_clear(&self.state)
        self.current = NAN

    def update(self, double value):
        """Add one price and return the RSI (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("RSI.update: value", value)
        self.current = rsi_push(&self.state, value)
        return self.current

    def reset(self):
        """Forget every value; the indicator warms up again."""
        wilder_clear(&self.state)
        self.current = NAN

    @property
    def value(self):
        """The current RSI, NaN before ready."""
        return self.current

    @property
    def ready(self):
        """True once ``warmup`` (= ``period + 1``) prices have been seen."""
        return self.state.count > self.state.period

    @property
    def warmup(self):
        """Prices needed before the value is ready: ``period + 1`` (``period`` changes)."""
        return self.state.period + 1

    @property
    def period(self):
        return self.state.period

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.state.count


cdef class ATR:
    """Average true range with Wilder's smoothing, from high, low and close.

    ``TR = max(high - low, |high - previous close|, |low - previous close|)``; the first bar,
    having no previous close, has ``TR = high - low``. The first ATR is the mean of the first
    ``period`` true ranges, then ``ATR = (ATR * (period - 1) + TR) / period``. Ready after
    ``period`` bars (``warmup``).

    Args:
        period: Smoothing period, >= 1 (14 is Wilder's).

    Raises:
        ValueError: ``period`` < 1.
    """

    cdef WilderState state
    cdef double current

    def __init__(self, period=14):
        _check_period("ATR", "period", period)
        self.state.period = period
        wilder_clear(&self.state)
        self.current = NAN

    def update(self, double high, double low, double close):
        """Add one bar and return the ATR (NaN before ready).

        Raises:
            ValueError: A non-finite input, or ``high < low``.
        """
        if not (isfinite(high) and isfinite(low) and isfinite(close)):
            raise ValueError(
                f"ATR.update: high, low and close must be finite, got {high!r}, {low!r}, {close!r}")
        if high < low:
            raise ValueError(f"ATR.update: high {high!r} is below low {low!r}")
        self.current = atr_push(&self.state, high, low, close)
        return self.current

    def reset(self):
        """Forget every bar; the indicator warms up again."""
        wilder_clear(&self.state)
        self.current = NAN

    @property
    def value(self):
        """The current ATR, NaN before ready."""
        return self.current

    @property
    def ready(self):
        """True once ``warmup`` (= ``period``) bars have been seen."""
        return self.state.count >= self.state.period

    @property
    def warmup(self):
        """Bars needed before the value is ready: ``period``."""
        return self.state.period

    @property
    def period(self):
        return self.state.period

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.state.count


cdef class MACD:
    """Moving average convergence/divergence: line, signal and histogram.

    ``line = EMA(fast) - EMA(slow)``, ``signal = EMA(signal_period)`` of the line, ``histogram =
    line - signal``; each EMA as :class:`EMA` (pandas ``ewm(adjust=False)``) and all three run
    from the first update, as the pandas expression does. Ready after ``slow + signal_period -
    1`` updates (``warmup``). ``update`` returns and ``value`` is the line.

    Args:
        fast: Fast EMA period, >= 1.
        slow: Slow EMA period, > ``fast``.
        signal: Signal EMA period, >= 1.

    Raises:
        ValueError: A period < 1, or ``fast >= slow``.
    """

    cdef MacdState state

    def __init__(self, fast=12, slow=26, signal=9):
        _check_period("MACD", "fast", fast)
        _check_period("MACD", "slow", slow)
        _check_period("MACD", "signal", signal)
        if fast >= slow:
            raise ValueError(f"MACD fast period {fast} must be shorter than slow period {slow}")
        self.state.fast.period = fast
        self.state.fast.alpha = 2.0 / (fast + 1.0)
        self.state.slow.period = slow
        self.state.slow.alpha = 2.0 / (slow + 1.0)
        self.state.signal.period = signal
        self.state.signal.alpha = 2.0 / (signal + 1.0)
        self.state.warmup = slow + signal - 1
        macd_clear(&self.state)

    def update(self, double value):
        """Add one value and return the MACD line (NaN before ready).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not isfinite(value):
            raise _not_finite("MACD.update: value", value)
        return macd_push(&self.state, value)

    def reset(self):
        """Forget every value; the indicator warms up again."""
        macd_clear(&self.state)

    @property
    def value(self):
        """The MACD line, NaN before ready."""
        return self.state.line

    @property
    def line(self):
        return self.state.line

    @property
    def signal(self):
        return self.state.signal_value

    @property
    def histogram(self):
        return self.state.histogram

    @property
    def ready(self):
        """True once ``warmup`` updates have been seen."""
        return self.state.signal.count >= self.state.warmup

    @property
    def warmup(self):
        """Updates needed before the value is ready: ``slow + signal - 1``."""
        return self.state.warmup

    @property
    def count(self):
        """Updates since construction or the last reset."""
        return self.state.signal.count


cdef class VWAP:
    """Cumulative volume-weighted average price, optionally reset at every session start.

    ``sum(price * quantity) / sum(quantity)`` since the start (or the session start). With
    ``session_ns > 0`` a new session begins whenever ``(ts_event - session_offset_ns) //
    session_ns`` changes, e.g. ``session_ns = 86_400 * 10**9`` and ``session_offset_ns`` the
    session's opening time of day in UTC. Ready (``warmup`` = 1) once the session has a positive
    quantity; NaN before.

    Args:
        session_ns: Session length in ns; 0 never resets.
        session_offset_ns: Where sessions start, ns after the epoch modulo ``session_ns``.

    Raises:
        ValueError: ``session_ns`` < 0.
    """

    cdef VwapState state

    def __init__(self, int64_t session_ns=0, int64_t session_offset_ns=0):
        if session_ns < 0:
            raise ValueError(f"VWAP session_ns must be >= 0 (0: no reset), got {session_ns}")
        self.state.session_ns = session_ns
        self.state.session_offset_ns = session_offset_ns
        vwap_clear(&self.state)

    def update(self, double price, double quantity, int64_t ts_event=0):
        """Add one trade (or bar: typical price and volume) and return the VWAP.

        Args:
            price: Trade price.
            quantity: Traded quantity, >= 0.
            ts_event: Event time in ns since the epoch; only read when sessions reset.

        Returns:
            The VWAP of the session so far, NaN while its quantity is zero.

        Raises:
            ValueError: Non-finite price or quantity, or a negative quantity.
        """
        if not (isfinite(price) and isfinite(quantity)):
            raise ValueError(f"VWAP.update: price and quantity must be finite, got {price!r}, {quantity!r}")
        if quantity < 0.0:
            raise ValueError(f"VWAP.update: quantity must be >= 0, got {quantity!r}")
        return vwap_push(&self.state, price, quantity, ts_event)

    def reset(self):
        """Forget every trade: a new session starts now."""
        vwap_clear(&self.state)

    @property
    def value(self):
        """The session's VWAP, NaN while its quantity is zero."""
        return self.state.price_volume / self.state.volume if self.state.volume > 0.0 else NAN

    @property
    def ready(self):
        """True once the session has a positive quantity."""
        return self.state.volume > 0.0

    @property
    def warmup(self):
        """One update with a positive quantity."""
        return 1

    @property
    def volume(self):
        """Total quantity of the current session."""
        return self.state.volume

    @property
    def session_ns(self):
        return self.state.session_ns

    @property
    def session_offset_ns(self):
        return self.state.session_offset_ns


# ---------------------------------------------------------------------------------------------
# Vectorised functions: the same step functions over whole arrays.
# ---------------------------------------------------------------------------------------------

def ema(values, period):
    """EMA of every element, NaN before ready; the same sequence as :class:`EMA` updates.

    Args:
        values: 1-D array-like of finite floats.
        period: As :class:`EMA`.

    Returns:
        float64 array of ``len(values)``.

    Raises:
        ValueError: Bad ``period``, a non-1-D input, or a non-finite element (named by index).
    """
    _check_period("ema", "period", period)
    cdef cnp.ndarray array = _as_array("ema", "values", values)
    cdef const double[::1] x = array
    cdef cnp.ndarray result = np.empty(x.shape[0])
    cdef double[::1] out = result
    cdef EmaState state
    cdef Py_ssize_t i, n = x.shape[0], bad = -1
    state.period = period
    state.alpha = 2.0 / (period + 1.0)
    ema_clear(&state)
    with nogil:
        for i in range(n):
            if not isfinite(x[i]):
                bad = i
                break
            out[i] = ema_push(&state, x[i])
    if bad >= 0:
        _raise_at("ema", "values", bad, x[bad])
    return result


cdef object _window_function(str indicator, object values, object period, int kind, int ddof,
                             double k):
    # kind: 0 SMA, 1 rolling std, 2 z-score, 3 Bollinger (returns three arrays).
    _check_ddof(indicator, ddof)
    _check_period(indicator, "period", period, ddof + 1 if kind else 1)
    cdef cnp.ndarray array = _as_array(indicator, "values", values)
    cdef const double[::1] x = array
    cdef Py_ssize_t i, n = x.shape[0], bad = -1
    cdef cnp.ndarray first = np.empty(n), upper_array = None, lower_array = None
    cdef double[::1] out = first, upper = None, lower = None
    cdef Window window
    cdef BollingerOut bands
    if kind == 3:
        upper_array = np.empty(n)
        lower_array = np.empty(n)
        upper = upper_array
        lower = lower_array
    window.buffer = <double*>_alloc(period)
    window_open(&window, period)
    window_clear(&window)
    try:
        with nogil:
            for i in range(n):
                if not isfinite(x[i]):
                    bad = i
                    break
                if kind == 0:
                    out[i] = sma_push(&window, x[i])
                elif kind == 1:
                    out[i] = std_push(&window, ddof, x[i])
                elif kind == 2:
                    out[i] = zscore_push(&window, ddof, x[i])
                else:
                    bollinger_push(&window, ddof, k, x[i], &bands)
                    out[i] = bands.middle
                    upper[i] = bands.upper
                    lower[i] = bands.lower
    finally:
        PyMem_Free(window.buffer)
    if bad >= 0:
        _raise_at(indicator, "values", bad, x[bad])
    if kind == 3:
        return first, upper_array, lower_array
    return first


def sma(values, period):
    """SMA of every element, NaN before ready; the same sequence as :class:`SMA` updates.

    Raises:
        ValueError: Bad ``period``, a non-1-D input, or a non-finite element (named by index).
    """
    return _window_function("sma", values, period, 0, 0, 0.0)


def rolling_std(values, period, ddof=1):
    """Rolling standard deviation, NaN before ready; the same sequence as :class:`RollingStd`.

    Raises:
        ValueError: Bad ``period``/``ddof``, a non-1-D input, or a non-finite element.
    """
    _check_ddof("rolling_std", ddof)
    return _window_function("rolling_std", values, period, 1, ddof, 0.0)


def zscore(values, period, ddof=1):
    """Rolling z-score, NaN before ready; the same sequence as :class:`ZScore` updates.

    Raises:
        ValueError: Bad ``period``/``ddof``, a non-1-D input, or a non-finite element.
    """
    _check_ddof("zscore", ddof)
    return _window_function("zscore", values, period, 2, ddof, 0.0)


def bollinger(values, period, double k=2.0, ddof=1):
    """Bollinger bands ``(middle, upper, lower)``; the same sequences as :class:`BollingerBands`.

    Raises:
        ValueError: Bad ``period``/``k``/``ddof``, a non-1-D input, or a non-finite element.
    """
    _check_ddof("bollinger", ddof)
    if not isfinite(k) or k < 0.0:
        raise ValueError(f"bollinger k must be finite and >= 0, got {k!r}")
    return _window_function("bollinger", values, period, 3, ddof, k)


def wma(values, period):
    """WMA of every element, NaN before ready; the same sequence as :class:`WMA` updates.

    Raises:
        ValueError: Bad ``period``, a non-1-D input, or a non-finite element (named by index).
    """
    _check_period("wma", "period", period)
    cdef cnp.ndarray array = _as_array("wma", "values", values)
    cdef const double[::1] x = array
    cdef cnp.ndarray result = np.empty(x.shape[0])
    cdef double[::1] out = result
    cdef WmaState state
    cdef Py_ssize_t i, n = x.shape[0], bad = -1
    state.buffer = <double*>_alloc(period)
    state.period = period
    state.divisor = period * (period + 1.0) / 2.0
    wma_clear(&state)
    try:
        with nogil:
            for i in range(n):
                if not isfinite(x[i]):
                    bad = i
                    break
                out[i] = wma_push(&state, x[i])
    finally:
        PyMem_Free(state.buffer)
    if bad >= 0:
        _raise_at("wma", "values", bad, x[bad])
    return result


def rsi(values, period=14):
    """Wilder RSI of every element, NaN before ready; the same sequence as :class:`RSI`.

    Raises:
        ValueError: Bad ``period``, a non-1-D input, or a non-finite element (named by index).
    """
    _check_period("rsi", "period", period)
    cdef cnp.ndarray array = _as_array("rsi", "values", values)
    cdef const double[::1] x = array
    cdef cnp.ndarray result = np.empty(x.shape[0])
    cdef double[::1] out = result
    cdef WilderState state
    cdef Py_ssize_t i, n = x.shape[0], bad = -1
    state.period = period
    wilder_clear(&state)
    with nogil:
        for i in range(n):
            if not isfinite(x[i]):
                bad = i
                break
            out[i] = rsi_push(&state, x[i])
    if bad >= 0:
        _raise_at("rsi", "values", bad, x[bad])
    return result


def atr(high, low, close, period=14):
    """Wilder ATR of every bar, NaN before ready; the same sequence as :class:`ATR` updates.

    Raises:
        ValueError: Bad ``period``, arrays of different lengths, a non-finite element, or a bar
            with ``high < low`` (named by index).
    """
    _check_period("atr", "period", period)
    cdef cnp.ndarray high_array = _as_array("atr", "high", high)
    cdef cnp.ndarray low_array = _as_array("atr", "low", low)
    cdef cnp.ndarray close_array = _as_array("atr", "close", close)
    if not (high_array.shape[0] == low_array.shape[0] == close_array.shape[0]):
        raise ValueError(
            f"atr: high, low and close must have the same length, got {high_array.shape[0]}, "
            f"{low_array.shape[0]}, {close_array.shape[0]}")
    cdef const double[::1] h = high_array
    cdef const double[::1] l = low_array
    cdef const double[::1] c = close_array
    cdef cnp.ndarray result = np.empty(h.shape[0])
    cdef double[::1] out = result
    cdef WilderState state
    cdef Py_ssize_t i, n = h.shape[0], bad = -1
    state.period = period
    wilder_clear(&state)
    with nogil:
        for i in range(n):
            if not (isfinite(h[i]) and isfinite(l[i]) and isfinite(c[i])) or h[i] < l[i]:
                bad = i
                break
            out[i] = atr_push(&state, h[i], l[i], c[i])
    if bad >= 0:
        if h[bad] < l[bad]:
            raise ValueError(f"atr: high[{bad}] {h[bad]!r} is below low[{bad}] {l[bad]!r}")
        raise ValueError(
            f"atr: bar {bad} must be finite, got high {h[bad]!r}, low {l[bad]!r}, close {c[bad]!r}")
    return result


def macd(values, fast=12, slow=26, signal=9):
    """MACD ``(line, signal, histogram)``, NaN before ready; the same sequences as :class:`MACD`.

    Raises:
        ValueError: Bad periods, a non-1-D input, or a non-finite element (named by index).
    """
    # Validation (and its messages) as the class.
    MACD(fast, slow, signal)
    cdef cnp.ndarray array = _as_array("macd", "values", values)
    cdef const double[::1] x = array
    cdef Py_ssize_t i, n = x.shape[0], bad = -1
    cdef cnp.ndarray line_array = np.empty(n), signal_array = np.empty(n), histogram_array = np.empty(n)
    cdef double[::1] line = line_array, signal_out = signal_array, histogram = histogram_array
    cdef MacdState state
    state.fast.period = fast
    state.fast.alpha = 2.0 / (fast + 1.0)
    state.slow.period = slow
    state.slow.alpha = 2.0 / (slow + 1.0)
    state.signal.period = signal
    state.signal.alpha = 2.0 / (signal + 1.0)
    state.warmup = slow + signal - 1
    macd_clear(&state)
    with nogil:
        for i in range(n):
            if not isfinite(x[i]):
                bad = i
                break
            line[i] = macd_push(&state, x[i])
            signal_out[i] = state.signal_value
            histogram[i] = state.histogram
    if bad >= 0:
        _raise_at("macd", "values", bad, x[bad])
    return line_array, signal_array, histogram_array


def vwap(price, quantity, ts_event=None, int64_t session_ns=0, int64_t session_offset_ns=0):
    """VWAP after every trade; the same sequence as :class:`VWAP` updates.

    Args:
        price: 1-D array-like of prices.
        quantity: 1-D array-like of quantities (>= 0), the same length.
        ts_event: int64 ns event times, the same length; required when ``session_ns > 0``.
        session_ns: As :class:`VWAP`.
        session_offset_ns: As :class:`VWAP`.

    Raises:
        ValueError: Arrays of different lengths, a missing ``ts_event``, a non-finite element or
            a negative quantity (named by index), or ``session_ns < 0``.
    """
    if session_ns < 0:
        raise ValueError(f"vwap session_ns must be >= 0 (0: no reset), got {session_ns}")
    cdef cnp.ndarray price_array = _as_array("vwap", "price", price)
    cdef cnp.ndarray quantity_array = _as_array("vwap", "quantity", quantity)
    cdef Py_ssize_t i, n = price_array.shape[0], bad = -1
    if quantity_array.shape[0] != n:
        raise ValueError(
            f"vwap: price and quantity must have the same length, got {n} and {quantity_array.shape[0]}")
    cdef cnp.ndarray ts_array
    if ts_event is None:
        if session_ns > 0:
            raise ValueError("vwap: ts_event is required when session_ns > 0")
        ts_array = np.zeros(n, dtype=np.int64)
    else:
        ts_array = np.ascontiguousarray(ts_event, dtype=np.int64)
        if ts_array.ndim != 1 or ts_array.shape[0] != n:
            raise ValueError(f"vwap: ts_event must be 1-D with {n} elements, got shape {np.shape(ts_array)}")
    cdef const double[::1] p = price_array
    cdef const double[::1] q = quantity_array
    cdef const int64_t[::1] ts = ts_array
    cdef cnp.ndarray result = np.empty(n)
    cdef double[::1] out = result
    cdef VwapState state
    state.session_ns = session_ns
    state.session_offset_ns = session_offset_ns
    vwap_clear(&state)
    with nogil:
        for i in range(n):
            if not (isfinite(p[i]) and isfinite(q[i])) or q[i] < 0.0:
                bad = i
                break
            out[i] = vwap_push(&state, p[i], q[i], ts[i])
    if bad >= 0:
        if isfinite(q[bad]) and q[bad] < 0.0:
            raise ValueError(f"vwap: quantity[{bad}] must be >= 0, got {q[bad]!r}")
        raise ValueError(
            f"vwap: trade {bad} must be finite, got price {p[bad]!r}, quantity {q[bad]!r}")
    return result
