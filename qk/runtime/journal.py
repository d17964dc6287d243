"""A session's WAL read back as its rings: every stream's records, in ring order, typed.

``qk replay`` compares against these, and a restarted strategy host rebuilds its state from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from qk.runtime.plan import PlanError, SessionPlan
from qk.schemas import as_record
from qk.wal import WalReader

__all__ = ["logged_streams"]


def logged_streams(plan: SessionPlan, wal_dir: Path) -> dict[str, list[npt.NDArray[np.void]]]:
    """Ring role (``md``, ``bars``, ``exec``, ``intents.<id>``...) -> its logged records.

    Raises:
        PlanError: A stream of another session, or a ring position logged twice or skipped.
    """
    roles = plan.ring_roles()
    out: dict[str, list[npt.NDArray[np.void]]] = {role: [] for role in roles.values()}
    with WalReader(wal_dir) as reader:
        for record in reader:
            role = roles.get(record.stream)
            if role is None:
                raise PlanError(f"{wal_dir}: stream {record.stream} is no ring of {plan.session!r}")
            if record.stream_seq != len(out[role]):
                raise PlanError(
                    f"{wal_dir}: ring {role} record {len(out[role])} is logged as position "
                    f"{record.stream_seq} (the log has a gap or a duplicate)"
                )
            out[role].append(as_record(np.frombuffer(record.payload, np.uint8)).copy())
    return out
