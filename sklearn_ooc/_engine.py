"""The engine: runs an estimator's per-batch work over a source.

Estimators never loop over batches, start threads or print: they hand the
engine a function of one batch, and the engine maps it over the batches of an
epoch (serially, or on ``n_jobs`` threads running GIL-free kernels), reduces
the results in batch order, and reports progress.

A pass also hands the digest of each batch it reads to whoever asked for the
digests of that source (:func:`digest_batches`): a checkpoint fingerprints
the whole data as the fit's own passes read it, at no pass of its own.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import effective_n_jobs
from threadpoolctl import ThreadpoolController

from ._stats import Workspace, WorkspacePool
from .data._progress import Progress


class _SingleThreadedBlas:
    """Context in which BLAS runs on one thread.

    Parallelism comes from batches, not from BLAS: two BLAS threads on one
    batch-sized product are slower here than one, and a fixed thread count
    makes every batch's result, hence the reduction, bitwise reproducible.

    The limit is process-wide, so passes that overlap in time (estimators
    fitted on threads) share it: the first to enter sets it, the last to
    leave restores the original limits. A fit holds it from its first pass
    to its last solve (:meth:`Engine.single_threaded_blas`): OpenBLAS's
    threads, woken by a threaded call between passes, would spin for a
    tenth of a second each time on the cores the next pass works on.
    """

    _lock = threading.Lock()
    _depth = 0
    _limiter = None
    _controller = None

    def __enter__(self):
        cls = type(self)
        with cls._lock:
            if cls._depth == 0:
                if cls._controller is None:
                    cls._controller = ThreadpoolController()
                cls._limiter = cls._controller.limit(limits=1, user_api="blas")
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = type(self)
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0:
                cls._limiter.restore_original_limits()
                cls._limiter = None
        return False


def batch_digest(batch):
    """A hash of the values of a batch: ``X``, ``y`` and ``sample_weight``.

    Each array enters with its dtype and shape, so that equal digests mean
    equal batches.

    Parameters
    ----------
    batch : Batch
        A batch read from a source.

    Returns
    -------
    digest : bytes
        32 bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.data import BatchSource
    >>> source = BatchSource(np.arange(6.0).reshape(3, 2), batch_size=2)
    >>> batch_digest(source.read(0)) == batch_digest(source.read(0))
    True
    >>> batch_digest(source.read(0)) == batch_digest(source.read(1))
    False
    """
    digest = hashlib.blake2b(digest_size=32)
    for values in (batch.X, batch.y, batch.sample_weight):
        if values is None:
            digest.update(b"None;")
            continue
        values = np.ascontiguousarray(values)
        digest.update(f"{values.dtype.str}{values.shape};".encode())
        if values.dtype.hasobject:
            # Labels held as Python objects (strings): their values, never
            # the addresses the array holds.
            digest.update(repr(values.tolist()).encode())
        else:
            digest.update(values.reshape(-1).view(np.uint8))
    return digest.digest()


# Who receives the digests of the batches of a source, by source: estimators
# make a new engine for each pass, so the source is what every pass shares.
_digest_receivers = weakref.WeakKeyDictionary()


def digest_batches(source, receiver):
    """Have every pass over ``source`` hand ``receiver`` its batches' digests.

    ``receiver.missing(indices)`` says which of the batches a pass is about
    to read it has no digest of yet; the pass then calls
    ``receiver.receive(index, digest)`` (:func:`batch_digest`) for each of
    those before the batch is summarized, on the thread that summarizes it
    (Dask passes: on this thread, before any result is used). An exception
    it raises aborts the pass.

    Parameters
    ----------
    source : BatchSource
        The source watched.
    receiver : object or None
        The receiver; ``None`` stops handing digests over.
    """
    if receiver is None:
        _digest_receivers.pop(source, None)
    else:
        _digest_receivers[source] = receiver


def _wanted_digests(source, indices):
    """The receiver of ``source``'s digests and the batches it lacks."""
    receiver = _digest_receivers.get(source)
    if receiver is None:
        return None, frozenset()
    return receiver, frozenset(receiver.missing(indices))


class _Digesting:
    """``func`` that first hands the digest of a wanted batch to ``receiver``."""

    def __init__(self, func, receiver, wanted):
        self.func, self.receiver, self.wanted = func, receiver, wanted

    def __call__(self, batch):
        if batch.index in self.wanted:
            self.receiver.receive(batch.index, batch_digest(batch))
        return self.func(batch)


class _CheckingFinite:
    """``func`` on a batch whose ``X`` was not checked for NaN and infinity as
    it was read: checked now where the result does not show it finite
    (``finite_if``) or ``func`` failed, so that the error names the row."""

    def __init__(self, func, source, finite_if):
        self.func, self.source, self.finite_if = func, source, finite_if

    def __call__(self, batch):
        error = None
        try:
            result = self.func(batch)
        except Exception as exc:
            error = exc
        if error is not None or not self.finite_if(result):
            self.source.check_deferred(batch)
        if error is not None:
            raise error
        return result


class _Digested:
    """A result computed on a Dask worker, with the digests of its batches.

    Sums merge the digests, so a tree reduction carries them to the caller
    and still adds the results in the same pairs.
    """

    def __init__(self, value, digests):
        self.value, self.digests = value, digests

    def __add__(self, other):
        return _Digested(self.value + other.value, {**self.digests, **other.digests})


class _WithDigests:
    """Picklable ``func`` that also returns the digest of a wanted batch."""

    def __init__(self, func, wanted):
        self.func, self.wanted = func, wanted

    def __call__(self, batch):
        digests = {}
        if batch.index in self.wanted:
            digests[batch.index] = batch_digest(batch)
        return _Digested(self.func(batch), digests)


def _hand_over(receiver, digested):
    for index in sorted(digested.digests):
        receiver.receive(index, digested.digests[index])
    return digested.value


class Engine:
    """Map and reduce per-batch work over a :class:`~sklearn_ooc.data.BatchSource`.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Threads summarizing batches; ``None`` means 1 (or the active joblib
        :func:`~joblib.parallel_config`), ``-1`` all cores.
    verbose : int, default=0
        0 silent; 1 one line per step; 2 also a progress bar over the
        batches of each pass.
    name : str, default=""
        Prefix of the progress bar (the estimator's class name).
    stream : file-like, default=None
        Where verbose lines go; standard output if ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc._engine import Engine
    >>> from sklearn_ooc.data import BatchSource
    >>> source = BatchSource(np.ones((10, 2)), batch_size=3)
    >>> float(Engine(n_jobs=2).reduce(source, range(source.n_batches),
    ...                               lambda batch: batch.X.sum()))
    20.0
    """

    def __init__(
        self, *, n_jobs=None, verbose=0, name="", stream=None, distributed=True
    ):
        self.n_jobs = max(1, effective_n_jobs(n_jobs))
        self.verbose = verbose
        self.name = name
        self.stream = stream
        self.distributed = distributed

    def log(self, message):
        """Write one verbose line (when ``verbose >= 1``)."""
        if self.verbose:
            print(message, file=self.stream or sys.stdout, flush=True)

    def _progress(self, total, desc):
        # A bar on a terminal, plain lines in a log or a pipe; or nothing.
        mode = "off" if self.verbose < 2 or total <= 1 else "auto"
        return Progress(total, f"{self.name} {desc}".strip(), unit="batch", mode=mode)

    @staticmethod
    def single_threaded_blas():
        """Context of a whole fit: BLAS on one thread throughout, as within
        each pass (see :class:`_SingleThreadedBlas`).

        Held across the passes of an iterative fit and around the solve that
        ends a fit: a small threaded solve wakes OpenBLAS's threads, which
        then spin for a tenth of a second on the cores that the next pass
        or the next fit (of a grid search, say) works on.
        """
        return _SingleThreadedBlas()

    def map(self, source, indices, func, *, desc="pass", finite_if=None):
        """Yield ``(batch, func(batch))`` for the batches ``indices``, in order.

        ``func`` runs on up to ``n_jobs`` threads while the data layer reads
        the next batches ahead. Each call gets ``batch.workspace``, scratch
        buffers reused by its thread.

        ``finite_if(result)``, if given, must be False for the result of any
        batch whose ``X`` holds a NaN or an infinity. The batches' ``X`` are
        then not checked as they are read, only where ``finite_if`` is False
        or ``func`` raises, which reports the first bad row as the read would
        have: a pass over the rows less where ``func`` reads them anyway.
        """
        indices = list(indices)
        receiver, wanted = _wanted_digests(source, indices)
        if self.distributed and getattr(source, "is_dask", False):
            yield from _dask_map(source, indices, func, receiver, wanted)
            return
        if wanted:
            func = _Digesting(func, receiver, wanted)
        progress = self._progress(len(indices), desc)
        if finite_if is None or not hasattr(source, "check_deferred"):
            batches = source.iter_batches(indices)
        else:
            func = _CheckingFinite(func, source, finite_if)
            batches = source.iter_batches(indices, defer_finite=True)
        try:
            with _SingleThreadedBlas():
                if self.n_jobs == 1 or len(indices) <= 1:
                    workspace = Workspace()
                    for batch in batches:
                        batch.workspace = workspace
                        result = func(batch)
                        progress.update()
                        yield batch, result
                else:
                    yield from self._map_threads(batches, func, progress)
        finally:
            batches.close()
            progress.close()

    def _map_threads(self, batches, func, progress):
        workspaces = WorkspacePool()

        def run(batch):
            batch.workspace = workspaces.get()
            return func(batch)

        with ThreadPoolExecutor(self.n_jobs, thread_name_prefix="sklearn_ooc") as pool:
            pending = deque()
            try:
                for batch in batches:
                    pending.append((batch, pool.submit(run, batch)))
                    if len(pending) > self.n_jobs:
                        done, future = pending.popleft()
                        result = future.result()
                        progress.update()
                        yield done, result
                while pending:
                    done, future = pending.popleft()
                    result = future.result()
                    progress.update()
                    yield done, result
            finally:
                for _, future in pending:
                    future.cancel()

    def reduce(self, source, indices, summarize, *, desc="pass", finite_if=None):
        """Sum ``summarize(batch)`` over the batches ``indices``.

        The sum runs in batch order whatever ``n_jobs`` is, so the result is
        bitwise the same for every ``n_jobs``. Returns ``None`` for no batches.
        ``finite_if``: see :meth:`map`.
        """
        if self.distributed and getattr(source, "is_dask", False):
            indices = list(indices)
            receiver, wanted = _wanted_digests(source, indices)
            return _dask_reduce(source, indices, summarize, receiver, wanted)
        total = None
        for _, stats in self.map(
            source, indices, summarize, desc=desc, finite_if=finite_if
        ):
            total = stats if total is None else total + stats
        return total


def _run_block(func, maker, index, start, stop, X, y, w):
    """On a Dask worker: validate the rows it loaded, then ``func`` them."""
    batch = maker.make(index, start, stop, X, y, w)
    batch.workspace = Workspace()
    return func(batch)


def _add(a, b):
    return a + b


def _dask_tasks(source, indices, func):
    import dask

    run = dask.delayed(_run_block, pure=False)
    return [
        run(func, source.maker, i, *source.bounds(i), *source.dask_blocks(i))
        for i in indices
    ]


def _dask_reduce(source, indices, summarize, receiver=None, wanted=frozenset()):
    """Summaries computed where the chunks live, merged by a tree reduction.

    Only statistics travel. The tree pairs neighbours in batch order, so the
    result is the same on every run (it may differ from the serial left fold
    in the last digits). With a ``dask.distributed`` client active, the work
    runs on its cluster.
    """
    import dask

    if not indices:
        return None
    if wanted:
        summarize = _WithDigests(summarize, wanted)
    tasks = _dask_tasks(source, indices, summarize)
    add = dask.delayed(_add, pure=True)
    while len(tasks) > 1:
        tasks = [
            add(tasks[k], tasks[k + 1]) if k + 1 < len(tasks) else tasks[k]
            for k in range(0, len(tasks), 2)
        ]
    total = dask.compute(tasks[0])[0]
    return _hand_over(receiver, total) if wanted else total


class _Span:
    """Where a result computed remotely belongs."""

    def __init__(self, index, start, stop):
        self.index, self.start, self.stop = index, start, stop
        self.n_samples = stop - start


def _dask_map(source, indices, func, receiver=None, wanted=frozenset()):
    import dask

    if wanted:
        func = _WithDigests(func, wanted)
    results = dask.compute(*_dask_tasks(source, indices, func))
    if wanted:
        # Every digest is checked before any result is handed out.
        results = [_hand_over(receiver, result) for result in results]
    for i, result in zip(indices, results, strict=True):
        yield _Span(i, *source.bounds(i)), result


class Timer:
    """Seconds since creation (or the last :meth:`lap`)."""

    def __init__(self):
        self.start = self.last = time.perf_counter()

    def lap(self):
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed

    @property
    def total(self):
        return time.perf_counter() - self.start
