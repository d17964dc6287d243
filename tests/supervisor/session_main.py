"""A supervisor in its own process, for the shutdown tests.

    python -m tests.supervisor.session_main SESSION LOG

Runs three heartbeating children ``a`` <- ``b`` <- ``c`` (``c`` depends on ``b``, ``b`` on ``a``);
logs ``intake`` and ``cleanup`` from the supervisor's callbacks into LOG next to the children's
``start``/``stop`` lines, and exits with :meth:`Supervisor.run`'s code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from qk.supervisor import ProcessSpec, Supervisor

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    session, log = sys.argv[1], sys.argv[2]

    def note(event: str) -> None:
        with open(log, "a") as f:
            f.write(f"{event} supervisor {os.getpid()}\n")

    def spec(name: str, *deps: str) -> ProcessSpec:
        return ProcessSpec(
            name=name,
            entry="tests.supervisor.children:beat_forever",
            cwd=ROOT,
            env={"QK_TEST_LOG": log},
            heartbeat_timeout=5.0,
            depends_on=deps,
            stop_grace=5.0,
        )

    supervisor = Supervisor(
        [spec("c", "b"), spec("b", "a"), spec("a")],
        session=session,
        on_stop_intake=lambda: note("intake"),
        on_cleanup=lambda: note("cleanup"),
        poll_interval=0.02,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
