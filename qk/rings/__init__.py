"""Lock-free single-producer, multi-consumer broadcast rings in POSIX shared memory.

See ``docs/architecture.md`` (Rings) for the protocol; ``cext/qk_ring.h`` holds it in C.
"""

from qk.rings._ring import Consumer, Producer
from qk.rings.errors import (
    ConsumerBusyError,
    RingClosed,
    RingError,
    RingExistsError,
    RingLayoutError,
    RingNotFoundError,
    RingTimeout,
)
from qk.rings.ring import (
    BackPressure,
    ConsumerInfo,
    Ring,
    RingInfo,
    WaitStrategy,
    cleanup_stale,
    list_rings,
    segment_name,
)

__all__ = [
    "BackPressure",
    "Consumer",
    "ConsumerBusyError",
    "ConsumerInfo",
    "Producer",
    "Ring",
    "RingClosed",
    "RingError",
    "RingExistsError",
    "RingInfo",
    "RingLayoutError",
    "RingNotFoundError",
    "RingTimeout",
    "WaitStrategy",
    "cleanup_stale",
    "list_rings",
    "segment_name",
]
