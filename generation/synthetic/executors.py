"""Executors: run a `worker.JobRunner` over chunks of jobs and hand back the results in job order,
whoever computed them.

    with make_executor("local", workers=2, context=context, in_process=runner.run) as executor:
        for results in executor.map(chunks):   # a list of JobResult per chunk, chunks in order
            ...

- `local`, 1 worker: in the calling process (models already loaded there are reused);
- `local`, N workers: a pool of N spawned processes, each loading the models and fitting portraits once;
- `ray`: the same chunks on N Ray actors, on a local Ray runtime of N CPUs or the cluster at `ray_address`.
  Every node needs this project installed (`pip install affect-studio[dist]`) and the identity images at
  the same paths.

At most `window` chunks are in flight, so memory stays flat; results are consumed strictly in order, so
the output is byte-identical whichever executor made it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from generation.synthetic.jobs import Job
from generation.synthetic.worker import JobResult, JobRunner, WorkerContext, configure_worker_threads
from rigs.errors import AffectStudioError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


class InProcessExecutor:
    """One worker, this process."""

    def __init__(self, run: Callable[[Sequence[Job]], list[JobResult]]):
        self._run = run

    def map(self, chunks: Iterable[Sequence[Job]]) -> Iterator[list[JobResult]]:
        for chunk in chunks:
            yield self._run(chunk)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# -- process pool -------------------------------------------------------------------------------------------

_POOL_RUNNER: JobRunner | None = None  # this worker process's runner, built once when it starts
_POOL_BARRIER = None


def _pool_init(context: WorkerContext, barrier) -> None:
    global _POOL_RUNNER, _POOL_BARRIER
    configure_worker_threads()
    _POOL_RUNNER, _POOL_BARRIER = JobRunner(context), barrier
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """A worker whose driver was killed (SIGKILL leaves no time to stop the pool) stops within a second
    instead of lingering, orphaned; the job it was on is not in the manifest, so a restart redoes it."""
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:
            os._exit(1)


def _pool_warm() -> int:
    """Load the models, then wait until every worker has: each worker takes exactly one of these."""
    _POOL_RUNNER.warm_up()
    _POOL_BARRIER.wait(timeout=600)
    return os.getpid()


def _pool_run(jobs: Sequence[Job]) -> list[JobResult]:
    return _POOL_RUNNER.run(jobs)


def _ordered(submit: Callable[[Sequence[Job]], object], result: Callable[[object], list[JobResult]],
             chunks: Iterable[Sequence[Job]], window: int) -> Iterator[list[JobResult]]:  # fmt: skip
    """Keep up to `window` chunks in flight; yield their results in submission order."""
    pending: deque = deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


class ProcessPoolJobExecutor:
    """N spawned worker processes (spawn, not fork: the parent may hold MediaPipe's threads). They start,
    import and load their models in `__init__`, so that time is not counted as rendering."""

    def __init__(self, context: WorkerContext, workers: int, window_per_worker: int = 3):
        self.window = workers * window_per_worker
        spawn = get_context("spawn")
        barrier = spawn.Barrier(workers)
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=spawn, initializer=_pool_init, initargs=(context, barrier)
        )
        self._futures: list[Future] = []
        try:
            pids = [future.result() for future in [self._pool.submit(_pool_warm) for _ in range(workers)]]
        except BaseException as error:  # release the others from the barrier, stop them, say why
            barrier.abort()
            self._pool.shutdown(wait=False, cancel_futures=True)
            if isinstance(error, BrokenProcessPool):
                raise AffectStudioError(
                    "a worker process died while starting (out of memory? a script that calls the pipeline needs "
                    "`if __name__ == '__main__':` for worker processes to start)"
                ) from None
            raise
        log.info("%d worker processes ready: %s", workers, pids)

    def map(self, chunks: Iterable[Sequence[Job]]) -> Iterator[list[JobResult]]:
        def submit(chunk):
            future = self._pool.submit(_pool_run, chunk)
            self._futures.append(future)
            return future

        return _ordered(submit, lambda future: future.result(), chunks, self.window)

    def close(self) -> None:
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# -- Ray ----------------------------------------------------------------------------------------------------


class _RayWorker:
    """A Ray actor per worker (1 CPU): models load and portraits are fitted once, in `__init__`."""

    def __init__(self, context: WorkerContext):
        configure_worker_threads()
        self.runner = JobRunner(context)
        self.runner.warm_up()

    def ready(self) -> int:
        return os.getpid()

    def run(self, jobs: Sequence[Job]) -> list[JobResult]:
        return self.runner.run(jobs)


class RayJobExecutor:
    """The same chunks on Ray: one actor (1 CPU) per worker, chunks dealt round-robin, a few in flight per
    actor, results taken in order. Starts a local Ray runtime of `workers` CPUs unless `address` names a
    cluster (or Ray is already initialised in this process, which is then reused and left running)."""

    def __init__(self, context: WorkerContext, workers: int, address: str | None = None, window_per_worker: int = 3):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage reporting
        try:
            import ray
        except ImportError:
            raise AffectStudioError("the ray executor needs Ray: pip install 'affect-studio[dist]'") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address or None,
                    num_cpus=None if address else workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
            except (ConnectionError, ValueError, RuntimeError) as error:
                where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
                raise AffectStudioError(f"could not start or reach {where}: {str(error).splitlines()[0]}") from None
            self._started = True
        self.window = workers * window_per_worker
        # no restarts: a lost worker stops the run (cleanly: what was written is done) and a rerun resumes it
        actor = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
        context_ref = ray.put(context)
        self._actors = [actor.remote(context_ref) for _ in range(workers)]
        try:
            pids = ray.get([a.ready.remote() for a in self._actors])
        except ray.exceptions.RayActorError as error:
            self.close()
            raise AffectStudioError(f"a Ray worker failed to start: {str(error).splitlines()[0]}") from None
        log.info("%d Ray workers ready: %s", workers, pids)
        self._refs: list = []

    def map(self, chunks: Iterable[Sequence[Job]]) -> Iterator[list[JobResult]]:
        ray = self._ray
        count = 0

        def submit(chunk):
            nonlocal count
            ref = self._actors[count % len(self._actors)].run.remote(list(chunk))
            count += 1
            self._refs.append(ref)
            return ref

        def result(ref):
            try:
                return ray.get(ref)
            except ray.exceptions.RayTaskError as error:
                cause = error.as_instanceof_cause()
                if isinstance(cause, AffectStudioError):
                    raise AffectStudioError(str(cause).splitlines()[-1]) from None
                raise

        return _ordered(submit, result, chunks, self.window)

    def close(self) -> None:
        for ref in self._refs[-self.window :]:
            try:
                self._ray.cancel(ref)
            except Exception:  # noqa: BLE001 (already finished, or the runtime is gone)
                pass
        for actor in getattr(self, "_actors", []):
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        if self._started:
            self._ray.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def make_executor(
    kind: str,
    workers: int,
    context: WorkerContext,
    in_process: Callable[[Sequence[Job]], list[JobResult]],
    ray_address: str | None = None,
):
    """`kind` 'local' or 'ray'. `in_process` is the job function used for one local worker (the caller's
    runner, whose models are already loaded)."""
    if kind not in EXECUTORS:
        raise AffectStudioError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")
    if workers < 1:
        raise AffectStudioError(f"workers must be at least 1, not {workers}")
    if kind == "ray":
        return RayJobExecutor(context, workers, ray_address)
    if ray_address:
        raise AffectStudioError("--ray-address needs --executor ray")
    if workers == 1:
        return InProcessExecutor(in_process)
    return ProcessPoolJobExecutor(context, workers)
