"""Live demo traffic: new predictions as time passes, and labels as their delay elapses."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sklearn.pipeline import Pipeline

from sample_data import traffic
from sample_data.records import Record, label_records, prediction_records, simulate_requests

_LIVE_STREAM = 3


@dataclass(frozen=True)
class LiveBatch:
    """What happened between two ticks of the simulator."""

    predictions: list[Record]
    labels: list[Record]
    start: datetime
    end: datetime


class LiveSimulator:
    """Pure-data traffic source shaped like the last days of the history (drifted, version "2").

    `step(now)` returns the predictions made since the previous step and every label whose
    delay has elapsed by `now`, including `pending_labels` handed over from `build_history`.
    """

    def __init__(
        self,
        seed: int,
        model: Pipeline,
        start: datetime,
        *,
        pending_labels: Iterable[Record] = (),
        per_day: float = 3000,
        version: str = "2",
        drifted: bool = True,
    ) -> None:
        if per_day <= 0:
            raise ValueError(f"per_day must be positive, got {per_day!r}")
        self._model = model
        self._cursor_ms = traffic.to_ms(start)
        # The start goes into the stream so restarts produce fresh event ids.
        self._rng = np.random.default_rng([seed, _LIVE_STREAM, self._cursor_ms])
        self._per_day = per_day
        self._version = version
        self._drifted = drifted
        self._due: list[tuple[int, int, Record]] = []
        self._sequence = 0
        self.add_pending_labels(pending_labels)

    @property
    def now(self) -> datetime:
        """The simulator's clock: the end of the last step."""
        return traffic.from_ms(self._cursor_ms)

    @property
    def pending_count(self) -> int:
        """Labels scheduled but not yet delivered."""
        return len(self._due)

    def add_pending_labels(self, labels: Iterable[Record]) -> None:
        """Schedule label records for delivery at their own `timestamp`."""
        for record in labels:
            due = traffic.to_ms(datetime.fromisoformat(str(record["timestamp"])))
            self._schedule(due, record)

    def step(self, now: datetime | None = None) -> LiveBatch:
        """Advance the clock to `now` (default: the wall clock) and return what happened."""
        start_ms = self._cursor_ms
        end_ms = traffic.to_ms(now if now is not None else datetime.now(UTC))
        predictions: list[Record] = []
        if end_ms > start_ms:
            predictions = self._predict(start_ms, end_ms)
            self._cursor_ms = end_ms
        return LiveBatch(
            predictions=predictions,
            labels=self._deliver(end_ms),
            start=traffic.from_ms(start_ms),
            end=traffic.from_ms(max(end_ms, start_ms)),
        )

    def batches(self, interval: timedelta, count: int | None = None) -> Iterator[LiveBatch]:
        """Steps of `interval` on the simulated clock (no sleeping); endless if `count` is None."""
        if interval <= timedelta(0):
            raise ValueError(f"interval must be positive, got {interval!r}")
        produced = 0
        while count is None or produced < count:
            yield self.step(self.now + interval)
            produced += 1

    def _predict(self, start_ms: int, end_ms: int) -> list[Record]:
        """Simulate requests in [start_ms, end_ms) and schedule their labels."""
        times = traffic.arrival_times(self._rng, start_ms, end_ms, self._per_day)
        drifted = np.full(len(times), self._drifted)
        versions = np.full(len(times), self._version, dtype=object)
        frame = simulate_requests(self._rng, self._model, times, drifted, versions)
        # label_records sorts by due time, so sort the due times the same way to pair them.
        dues = sorted(frame["label_timestamp_ms"].tolist())
        for due, record in zip(dues, label_records(frame), strict=True):
            self._schedule(due, record)
        return prediction_records(frame)

    def _schedule(self, due_ms: int, record: Record) -> None:
        """Queue one label; the sequence number keeps equal due times in arrival order."""
        heapq.heappush(self._due, (due_ms, self._sequence, record))
        self._sequence += 1

    def _deliver(self, now_ms: int) -> list[Record]:
        """Pop every label due by `now_ms`, oldest first."""
        delivered = []
        while self._due and self._due[0][0] <= now_ms:
            delivered.append(heapq.heappop(self._due)[2])
        return delivered
