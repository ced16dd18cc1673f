"""Micro-batching: concurrent requests for one model merged into one model call.

Every call of a model runs on that model's one worker thread, so a model is never called from two
threads at once and the event loop never blocks. While the worker computes, requests queue; when it
is free it takes every queued request of the same kind (the same function and options) as one
batch, up to `max_rows` examples, and splits the result back. Nothing waits on a timer: one client
pays no batching delay, many clients get large batches because they arrive while the model is busy.

A merged call is padded to a power of two examples (the last example repeated), so a model meets
a few batch shapes, not one per count: JAX compiles each operation once per shape.

Calls that draw random numbers with a seed (prior samples, importance-sampled scores) are not
merged, so that a request's result does not depend on what else arrived with it.
"""

import asyncio
import collections
import concurrent.futures
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Job:
    inputs: tuple  # numpy arrays, one leading row per example, all the same length
    future: asyncio.Future
    rows: int = field(init=False)

    def __post_init__(self):
        self.rows = len(self.inputs[0])


class Batcher:
    """Runs one model's calls on one worker thread, merging queued requests of the same key.

    Args:
        max_rows: Most examples in one merged call (a larger single request still runs whole).
        enabled: False runs every request on its own (the same worker thread): what micro-batching
            is measured against.

    Example:
    >>> batcher = Batcher()
    >>> means = await batcher.run(("decode",), decode_fn, z)  # decode_fn(z) -> (n, ...) array
    """

    def __init__(self, max_rows=1024, enabled=True):
        if int(max_rows) < 1:
            raise ValueError(f"Expected max_rows >= 1. Received: max_rows={max_rows}")
        self.max_rows = int(max_rows)
        self.enabled = bool(enabled)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="vaekit-model")
        self._queues = collections.OrderedDict()  # key -> (fn, deque of _Job)
        self._draining = False
        self._task = None
        self.calls = 0  # model calls made (merged batches count once): for tests and benchmarks
        self.requests = 0

    async def run(self, key, fn, *inputs):
        """`fn(*inputs)` on the worker thread, merged with queued requests of the same `key`.

        `inputs` are numpy arrays with one row per example; `fn` returns an array, or a tuple or
        dict of arrays, with one row per example.
        """
        loop = asyncio.get_running_loop()
        job = _Job(tuple(np.asarray(a) for a in inputs), loop.create_future())
        if not self.enabled:
            key = (key, id(job))  # a queue of its own
        queue = self._queues.setdefault(key, (fn, collections.deque()))[1]
        queue.append(job)
        self.requests += 1
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())  # kept: the loop holds tasks weakly
        return await job.future

    async def call(self, fn, *args):
        """`fn(*args)` alone on the worker thread, in turn with the merged calls (seeded draws)."""
        self.requests += 1
        self.calls += 1
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _drain(self):
        loop = asyncio.get_running_loop()
        try:
            while self._queues:
                key, (fn, queue) = next(iter(self._queues.items()))
                jobs = [queue.popleft()]
                rows = jobs[0].rows
                while queue and rows + queue[0].rows <= self.max_rows:
                    jobs.append(queue.popleft())
                    rows += jobs[-1].rows
                if queue:
                    self._queues.move_to_end(key)  # other kinds of request get their turn
                else:
                    del self._queues[key]
                await self._call(loop, fn, jobs)
        finally:
            self._draining = False

    async def _call(self, loop, fn, jobs):
        self.calls += 1
        try:
            inputs = (
                jobs[0].inputs
                if len(jobs) == 1
                else tuple(
                    np.concatenate(parts) for parts in zip(*(j.inputs for j in jobs), strict=True)
                )
            )
            inputs = tuple(_padded(a) for a in inputs)
            out = await loop.run_in_executor(self._executor, fn, *inputs)
            start = 0
            for job in jobs:
                if not job.future.done():  # a client that went away cancelled its future
                    job.future.set_result(_rows(out, start, start + job.rows))
                start += job.rows
        except BaseException as exc:  # every waiting request gets the error, even a cancellation
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    def close(self):
        """Stop the worker thread (after the call it is running, if any)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _padded(array):
    """`array` with its last row repeated up to a power of two rows (at most double the rows)."""
    rows = len(array)
    target = 1 << max(rows - 1, 0).bit_length()
    if target == rows or rows == 0:
        return array
    return np.concatenate([array, np.repeat(array[-1:], target - rows, axis=0)])


def _rows(out, start, stop):
    if isinstance(out, dict):
        return {k: _rows(v, start, stop) for k, v in out.items()}
    if isinstance(out, tuple):
        return tuple(_rows(v, start, stop) for v in out)
    return out[start:stop]
