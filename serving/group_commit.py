"""Group commit: many callers, one writer thread, one durable transaction per group.

Callers hand items to `submit`; the writer takes everything queued so far, commits it in one
transaction (one fsync), then completes each caller's future. A caller that awaits its future
therefore knows its item is durable; under load the fsync cost is shared by the whole group.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

_STOP = object()
_WAKE = object()


class GroupCommitter(Generic[Item, Result]):
    """Runs `commit(items) -> results` (one result per item, same order) on a writer thread.

    `idle() -> more` is work for the writer when no item is waiting (after a group, or after
    `wake_idle`), one step at a time, checking the queue between steps: an item waits at most
    for the step under way."""

    def __init__(
        self,
        commit: Callable[[Sequence[Item]], Sequence[Result]],
        *,
        max_group: int = 1024,
        name: str = "group-commit",
        idle: Callable[[], bool] | None = None,
    ) -> None:
        self._commit = commit
        self._max_group = max_group
        self._idle = idle
        self._idle_pending = False
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Future[Result]:
        """Queue `item`; the future completes once its group is committed (or failed)."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future

    async def commit(self, item: Item) -> Result:
        """Await the durable commit of `item` without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(item))

    def commit_now(self, item: Item) -> Result:
        """Block until `item` is durable (for synchronous callers such as batch scoring)."""
        return self.submit(item).result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    def wake_idle(self) -> None:
        """Have the writer run its idle work (until it says there is no more)."""
        self._queue.put(_WAKE)

    def _next(self) -> object:
        """The next queued entry, doing idle steps while none is waiting and work remains."""
        while self._idle is not None and self._idle_pending:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                self._idle_pending = self._idle()
            except Exception as error:  # retried after the next group; no traceback per try
                logger.warning("idle work of the writer failed: %s", error)
                self._idle_pending = False
        return self._queue.get()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            group: list[tuple[Item, Future[Result]]] = []
            entry = self._next()
            while True:
                if entry is _STOP:
                    stopping = True
                elif entry is not _WAKE:
                    group.append(entry)  # type: ignore[arg-type]
                if stopping or len(group) >= self._max_group:
                    break
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
            if group:
                self._commit_group(group)
            self._idle_pending = self._idle is not None

    def _commit_group(self, group: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self._commit([item for item, _ in group])
        except Exception as error:  # every caller of the group learns of the failure
            logger.exception("commit of %d items failed", len(group))
            for _, future in group:
                future.set_exception(error)
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
