"""Replay: seek by seq and by time; batch and per-record APIs agree."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.wal import WalReader, WalWriter, WriterOptions

frames = st.lists(
    st.tuples(st.binary(min_size=1, max_size=300), st.integers(-(2**40), 2**40), st.integers(0, 5)),
    min_size=1,
    max_size=300,
)


def write(directory: Path, items: list[tuple[bytes, int, int]], segment_size: int) -> None:
    with WalWriter(
        directory, options=WriterOptions(segment_size=segment_size, prepare_ahead=False)
    ) as w:
        for i, (payload, ts, stream) in enumerate(items):
            w.append(payload, ts_event=ts, stream=stream, stream_seq=i)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=frames, segment_size=st.sampled_from([4096, 8192, 65536]), data=st.data())
def test_replay_batch_and_per_record_agree_and_seeks_land_right(
    items: list[tuple[bytes, int, int]], segment_size: int, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write(directory, items, segment_size)
        with WalReader(directory) as reader:
            per_record = list(reader.records())
            assert [(r.payload, r.ts_event, r.stream) for r in per_record] == items
            assert [r.seq for r in per_record] == list(range(1, len(items) + 1))
            assert [r.stream_seq for r in per_record] == list(range(len(items)))

            batched = []
            for batch in reader.batches(max_records=data.draw(st.integers(1, 50))):
                batched.extend(
                    (int(s), int(t), bytes(batch.payload(i)))
                    for i, (s, t) in enumerate(zip(batch.seq, batch.ts_event, strict=True))
                )
            assert batched == [(r.seq, r.ts_event, r.payload) for r in per_record]

            start = data.draw(st.integers(1, len(items) + 2))
            assert [r.seq for r in reader.records(start_seq=start)] == list(
                range(start, len(items) + 1)
            )

            t = data.draw(st.sampled_from([ts for _, ts, _ in items] + [2**41, -(2**41)]))
            first = next((i for i, (_, ts, _) in enumerate(items) if ts >= t), None)
            got = [r.seq for r in reader.records(start_ts=t)]
            assert got == ([] if first is None else list(range(first + 1, len(items) + 1)))
