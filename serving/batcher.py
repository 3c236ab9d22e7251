"""Micro-batching: requests waiting together are scored together, then logged together.

The feature transform (pandas) and the feature read cost about the same for one entity as for
eight, so under concurrency the server scores every request that arrived while the previous
batch was being scored in one call, and commits their records in one group. A lone request is
scored at once (no timer, no added latency).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serving.prediction_log import PredictionRecord
from serving.predictor import ItemError, Prediction, Predictor

Commit = Callable[[list[PredictionRecord]], Awaitable[None]]


@dataclass
class _Waiting:
    entities: list[Mapping[str, Any]]
    request_id: str | None
    future: asyncio.Future[list[Prediction | ItemError]]


class MicroBatcher:
    """Scores queued requests as one batch of at most `max_entities` and logs them durably."""

    def __init__(self, predictor: Predictor, commit: Commit, *, max_entities: int) -> None:
        self._predictor = predictor
        self._commit = commit
        self._max = max_entities
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None
        self._commits: set[asyncio.Task[None]] = set()

    async def predict(
        self, entities: Sequence[Mapping[str, Any]], *, request_id: str | None
    ) -> list[Prediction | ItemError]:
        """Answers in the order of `entities`, once their records are durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Prediction | ItemError]] = loop.create_future()
        self._waiting.append(_Waiting(list(entities), request_id, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[_Waiting]:
        group: list[_Waiting] = []
        size = 0
        while self._waiting and (not group or size + len(self._waiting[0].entities) <= self._max):
            waiting = self._waiting.pop(0)
            group.append(waiting)
            size += len(waiting.entities)
        return group

    async def _drain(self) -> None:
        while self._waiting:
            for _ in range(3):  # let requests already read from sockets reach the queue
                await asyncio.sleep(0)
            group = self._take()
            try:
                scored = self._predictor.predict(
                    [e for w in group for e in w.entities],
                    request_ids=[w.request_id for w in group for _ in w.entities],
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
            end = start + len(waiting.entities)
            if not waiting.future.done():
                waiting.future.set_result(answers[start:end])
            start = end
