"""Micro-batching: requests waiting together are scored together, then logged together.

The feature transform (pandas) and the feature read cost about the same for one customer as for
eight, so under concurrency the server scores every request that arrived while the previous
batch was being scored in one call, and commits their records in one group. A lone request is
scored at once (no timer, no added latency).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from serving.prediction_log import PredictionRecord
from serving.predictor import ItemError, Prediction, Predictor

Commit = Callable[[list[PredictionRecord]], Awaitable[None]]


@dataclass
class _Waiting:
    customers: list[int]
    request_id: str | None
    future: asyncio.Future[list[Prediction | ItemError]]


class MicroBatcher:
    """Scores queued requests as one batch of at most `max_customers` and logs them durably."""

    def __init__(self, predictor: Predictor, commit: Commit, *, max_customers: int) -> None:
        self._predictor = predictor
        self._commit = commit
        self._max = max_customers
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None
        self._commits: set[asyncio.Task[None]] = set()

    async def predict(
        self, customers: list[int], *, request_id: str | None
    ) -> list[Prediction | ItemError]:
        """Answers in the order of `customers`, once their records are durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Prediction | ItemError]] = loop.create_future()
        self._waiting.append(_Waiting(customers, request_id, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        size = 0
        while self._waiting and (not group or size + len(self._waiting[0].customers) <= self._max):
            waiting = self._waiting.pop(0)
            group.append(waiting)
            size += len(waiting.customers)
        return group

    async def _drain(self) -> None:
        while self._waiting:
            for _ in range(3):  # let requests already read from sockets reach the queue
                await asyncio.sleep(0)
            group = self._take()
            try:
                scored = self._predictor.predict(
                    [c for w in group for c in w.customers],
                    request_ids=[w.request_id for w in group for _ in w.customers],
                )
            except Exception as error:
                for waiting in group:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
                continue
            task = asyncio.get_running_loop().create_task(
                self._finish(group, scored.answers, scored.records)
            )
            self._commits.add(task)
            task.add_done_callback(self._commits.discard)

    async def _finish(
        self,
        group: list[_Waiting],
        answers: list[Prediction | ItemError],
        records: list[PredictionRecord],
    ) -> None:
        try:
            await self._commit(records)
        except Exception as error:
            for waiting in group:
                if not waiting.future.done():
                    waiting.future.set_exception(error)
            return
        start = 0
        for waiting in group:
            end = start + len(waiting.customers)
            if not waiting.future.done():
                waiting.future.set_result(answers[start:end])
            start = end
