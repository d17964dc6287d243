"""The ring-consuming writer process: SIGKILLed and restarted, it neither loses nor duplicates."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qk.rings import Ring
from qk.wal import WalReader
from tests.wal.conftest import make_records

ROOT = Path(__file__).resolve().parents[2]
STREAM = 5


def start_service(directory: Path, wal_name: str, ring_name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qk.wal.service",
            "--dir",
            str(directory),
            "--name",
            wal_name,
            "--ring",
            ring_name,
            "--segment-size",
            "65536",
            "--stop-when-closed",
        ],
        cwd=ROOT,
    )


def wait_for_consumer(ring: Ring, name: str = "wal") -> None:
    deadline = time.monotonic() + 30
    while not any(c.name == name and c.alive for c in ring.consumers()):
        assert time.monotonic() < deadline, "the service never attached"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "capacity",
    [
        32768,  # larger than the whole stream: the producer never waits on the service
        1024,  # the producer blocks on the WAL consumer while the service is down
    ],
)
def test_a_sigkilled_service_resumes_without_loss_or_duplicates(
    tmp_path: Path, shm_name: str, capacity: int
) -> None:
    rng = random.Random(11)
    total = 30_000
    records = make_records(total, 64)
    ring = Ring.create(shm_name, slot_size=64, capacity=capacity, stream_id=STREAM)
    directory = tmp_path / "wal"
    wal_name = f"{shm_name}-wal"
    service = start_service(directory, wal_name, shm_name)
    try:
        wait_for_consumer(ring)
        producer = ring.producer()
        done = threading.Event()

        def produce() -> None:
            sent = 0
            while sent < total:
                chunk = rng.randint(1, 300)
                block = records[sent : sent + chunk].reshape(-1)  # < capacity: all or nothing
                while True:
                    try:
                        producer.write_batch(block, timeout=0.05)
                    except TimeoutError:
                        continue  # the service is down; the ring is full
                    break
                sent += len(block) // 64
            done.set()

        thread = threading.Thread(target=produce)
        thread.start()
        for _ in range(3):
            time.sleep(rng.random() * 0.3)
            service.send_signal(signal.SIGKILL)
            service.wait()
            service = start_service(directory, wal_name, shm_name)
        thread.join(timeout=120)
        assert done.is_set()
        ring.close()  # the producer closes: the service drains and exits
        assert service.wait(timeout=60) == 0
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
        ring.unlink()

    with WalReader(directory) as reader:
        batches = list(reader.batches())
    stream_seq = np.concatenate([b.stream_seq for b in batches])
    streams = np.concatenate([b.stream for b in batches])
    logged = np.concatenate([b.records(64) for b in batches])
    assert (streams == STREAM).all()
    assert stream_seq.tolist() == list(range(total))
    assert np.array_equal(logged, records)
