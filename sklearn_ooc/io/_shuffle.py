"""An exact, uniform shuffle of the rows of a file larger than memory."""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.utils import check_random_state

from .._kernels import permute_rows_inplace
from ..data import LazyArray, open_rows
from ..data._progress import Progress
from ..data._scratch import scratch_dir
from ._npy_writer import check_outputs, npy_writers, release_pages

MB = 1 << 20
# Bytes of index arrays per row held: a bucket draw and a sort position.
_INDEX_BYTES = 16


def _row_reader(data, name):
    arr = open_rows(data, name, numeric=False)
    if hasattr(arr, "tocsr"):
        raise TypeError(f"{name}: sparse input cannot be shuffled on disk")
    return arr


def _file_of(data):
    """The file ``data`` is read from, if any: an output must not replace it."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, LazyArray) and data.path is not None:
        return data.path
    while data is not None:
        filename = getattr(data, "filename", None)
        if isinstance(data, np.memmap) and filename:
            return os.fspath(filename)
        h5_file = getattr(getattr(data, "file", None), "filename", None)
        if isinstance(h5_file, str):
            return h5_file
        data = getattr(data, "base", None)
    return None


def check_buffer_mb(buffer_mb):
    """``buffer_mb`` as a float, or a :class:`ValueError` saying what is wrong."""
    if (
        isinstance(buffer_mb, bool)
        or not isinstance(buffer_mb, numbers.Real)
        or not math.isfinite(buffer_mb)
        or buffer_mb <= 0
    ):
        raise ValueError(
            f"buffer_mb must be a positive, finite number of megabytes, got "
            f"{buffer_mb!r}; the default is 64"
        )
    return float(buffer_mb)


def _bucket_plan(n_rows, capacity, seed, chunk_rows):
    """Draw the bucket of every row (counts only) until no bucket overflows.

    Rows go to buckets independently and uniformly; a bucket must fit in the
    buffer. Redrawing when one would not leaves the permutation uniform: the
    condition depends on the bucket counts alone, which do not change when
    rows are relabelled.
    """
    # As few buckets as keep each within the buffer but for a six-sigma
    # excess (the mean m with m + 6 sqrt(m) = capacity): the fewer buckets,
    # the longer the runs pass 2 reads back.
    mean = ((np.sqrt(36.0 + 4.0 * capacity) - 6.0) / 2.0) ** 2
    n_buckets = max(1, int(np.ceil(n_rows / mean)))
    for attempt in range(100):
        bucket_seed = np.random.SeedSequence([seed, attempt])
        rng = np.random.default_rng(bucket_seed)
        counts = np.zeros(n_buckets, dtype=np.int64)
        for start in range(0, n_rows, chunk_rows):
            size = min(chunk_rows, n_rows - start)
            counts += np.bincount(
                rng.integers(n_buckets, size=size), minlength=n_buckets
            )
        if counts.max() <= capacity:
            return n_buckets, counts, bucket_seed
    raise RuntimeError("could not fit the buckets in the buffer; raise buffer_mb")


def shuffle_on_disk(
    X,
    y=None,
    out=None,
    *,
    buffer_mb=64,
    random_state=None,
    overwrite=False,
    progress=False,
):
    """Write a uniformly random permutation of the rows of ``X`` (and ``y``).

    An external shuffle in two sequential passes, holding at most about
    ``buffer_mb`` megabytes of rows and their indices in memory: the first
    pass reads ``X`` chunk by chunk and scatters each row to a random bucket,
    the buckets being consecutive regions of a scratch file; the second reads
    each bucket, shuffles it in memory and appends it to the output. Every
    row lands exactly once, and every permutation is equally likely. ``y`` is
    permuted with ``X``.

    The buffer is split in two halves that take turns, so that one thread
    reads or writes the disk while the other sorts or permutes rows. Scratch
    and output pages are sent to disk as they are written and dropped from
    the page cache (on Linux), as for a file larger than memory the cache
    could not keep them. The outputs are written under temporary names and
    renamed when complete, ``X`` and ``y`` together; on any error neither is
    created or replaced and every temporary file is removed. The scratch
    folder and the temporary files sit next to the outputs, named after this
    process: what a killed run left there is removed by the next.

    The inputs are never changed: an output that is an input (by its name or
    through a link) is refused, and so is an output that exists, unless
    ``overwrite=True``.

    Parameters
    ----------
    X : str, os.PathLike, numpy.memmap, ndarray or array store
        Rows to shuffle; a path names a ``.npy`` file.
    y : same kinds as X, default=None
        Targets, one per row, kept aligned.
    out : str or os.PathLike
        Output prefix: writes ``{out}_X.npy`` (and ``{out}_y.npy``).
    buffer_mb : float, default=64
        Memory for rows, in megabytes (MLML's ``--buffer``).
    random_state : int, RandomState instance or None, default=None
        Seed of the permutation.
    overwrite : bool, default=False
        Replace outputs that exist; otherwise they are an error
        (:class:`FileExistsError`), raised before anything is written.
    progress : bool or {"auto", "bar", "lines", "off"}, default=False
        Progress of each pass over the rows, on standard error: ``True``
        (``"auto"``) a bar on a terminal and a plain line every 10 seconds
        elsewhere; ``"bar"`` or ``"lines"`` either way.

    Returns
    -------
    X_path : str
        The shuffled rows.
    y_path : str or None
        The shuffled targets.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.io import shuffle_on_disk
    >>> d = tempfile.mkdtemp()
    >>> np.save(os.path.join(d, "X.npy"), np.arange(10.0).reshape(5, 2))
    >>> X_path, _ = shuffle_on_disk(os.path.join(d, "X.npy"), out=os.path.join(d, "s"),
    ...                             random_state=0)
    >>> np.sort(np.load(X_path)[:, 0])
    array([0., 2., 4., 6., 8.])
    """
    if out is None:
        raise ValueError("out is required: the prefix of the shuffled .npy files")
    buffer_mb = check_buffer_mb(buffer_mb)
    out = os.fspath(out)
    X_path, y_path = f"{out}_X.npy", f"{out}_y.npy" if y is not None else None
    inputs = [f for f in (_file_of(X), _file_of(y)) if f is not None]
    check_outputs([X_path] + ([y_path] if y_path else []), inputs, overwrite=overwrite)
    X = _row_reader(X, "X")
    if X.dtype.hasobject:
        raise TypeError("X: rows of Python objects cannot be shuffled on disk")
    if len(X.shape) not in (1, 2):
        raise ValueError(f"X must be 1-D or 2-D, got shape {X.shape}")
    n_rows = X.shape[0]
    Y = None
    if y is not None:
        Y = _row_reader(y, "y")
        if Y.dtype.hasobject:
            raise TypeError("y: rows of Python objects cannot be shuffled on disk")
        if Y.shape[0] != n_rows:
            raise ValueError(f"y has {Y.shape[0]} rows but X has {n_rows}")
    row_bytes = X.dtype.itemsize * int(np.prod(X.shape[1:], dtype=np.int64))
    if Y is not None:
        row_bytes += Y.dtype.itemsize * int(np.prod(Y.shape[1:], dtype=np.int64))
    # The buffer holds two row buffers that take turns, and the per-row
    # indices (bucket draws and sort order, or a bucket's permutation).
    capacity = int(buffer_mb * MB) // (2 * row_bytes + _INDEX_BYTES)
    if capacity < 16 and n_rows > capacity:
        raise ValueError(
            f"buffer_mb={buffer_mb} holds {capacity} rows of {row_bytes} bytes; "
            "raise it to hold at least 16"
        )
    capacity = max(capacity, 1)
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    chunk_rows = max(1, capacity)
    n_buckets, counts, bucket_seed = _bucket_plan(n_rows, capacity, seed, chunk_rows)

    directory = os.path.dirname(os.path.abspath(out))
    parts = [X] + ([Y] if Y is not None else [])
    # The two halves of the buffer take turns: in pass 1 one is filled with
    # a chunk sorted by bucket while the other is written out; in pass 2 one
    # is read into while the other is permuted in place and written out.
    rows_held = min(capacity, n_rows)
    halves = [
        [np.empty((rows_held,) + arr.shape[1:], dtype=arr.dtype) for arr in parts]
        for _ in range(2)
    ]
    # Bucket b fills rows first[b]:first[b + 1] of the scratch files, in the
    # order its rows come in pass 1.
    first = np.concatenate([[0], np.cumsum(counts)])
    permute = np.random.default_rng(np.random.SeedSequence([seed, 1 << 20]))
    specs = [
        (path, arr.shape, arr.dtype)
        for arr, path in zip(parts, [X_path, y_path], strict=False)
    ]

    # Exits run in reverse: the I/O thread stops before the files close, and
    # they close before their folder goes.
    with (
        _scratch_folder(directory) as tmpdir,
        contextlib.ExitStack() as files,
        ThreadPoolExecutor(1, thread_name_prefix="sklearn_ooc-shuffle") as io,
    ):
        scratch = [
            files.enter_context(open(os.path.join(tmpdir, str(j)), "w+b", buffering=0))
            for j in range(len(parts))
        ]
        # Pass 1: read in order, sort every chunk's rows by bucket (stably)
        # and append each bucket's run to that bucket's region.
        rng = np.random.default_rng(bucket_seed)
        filled = first[:-1].copy()
        # Bytes written since the scratch files were last evicted, and how
        # many may wait: a bucket's runs from consecutive chunks are
        # neighbours on disk, and written back together they go in long
        # writes instead of one short write per run.
        unsent, window = 0, _eviction_window()
        writing = None
        scatter = _progress(progress, n_rows, "shuffle: scatter to buckets", row_bytes)
        for k, start in enumerate(range(0, n_rows, chunk_rows)):
            stop = min(start + chunk_rows, n_rows)
            buckets = rng.integers(n_buckets, size=stop - start)
            order = np.argsort(buckets, kind="stable")
            sizes = np.bincount(buckets, minlength=n_buckets)
            sorted_rows = [rows[: stop - start] for rows in halves[k % 2]]
            for arr, rows in zip(parts, sorted_rows, strict=True):
                np.take(
                    np.asarray(arr[start:stop]), order, axis=0, out=rows, mode="clip"
                )
            if writing is not None:
                writing.result()
            unsent += (stop - start) * row_bytes
            writing = io.submit(
                _scatter_through,
                scratch,
                sorted_rows,
                filled.copy(),
                sizes,
                unsent >= window,
            )
            unsent = 0 if unsent >= window else unsent
            filled += sizes
            scatter.update(stop - start)
        if writing is not None:
            writing.result()
        scatter.close()

        # Pass 2: read each bucket, permute it in memory and append it to the
        # output. The next bucket is read meanwhile.
        def read_bucket(b):
            bucket = [half[: counts[b]] for half in halves[b % 2]]
            for f, rows in zip(scratch, bucket, strict=True):
                _read_rows(f, rows, first[b])
            return bucket

        gather = _progress(progress, n_rows, "shuffle: permute buckets", row_bytes)
        with npy_writers(*specs, evict=True, overwrite=overwrite) as writers:
            reading = io.submit(read_bucket, 0)
            for b in range(n_buckets):
                perm = permute.permutation(counts[b])
                bucket = reading.result()
                if b + 1 < n_buckets:
                    reading = io.submit(read_bucket, b + 1)
                for rows, writer in zip(bucket, writers, strict=True):
                    permute_rows_inplace(_byte_rows(rows), perm)
                    writer.write(rows)
                gather.update(int(counts[b]))
        gather.close()
    return X_path, y_path


def _progress(progress, total, desc, row_bytes):
    if progress is False or progress is None:
        progress = "off"
    mode = "auto" if progress is True else progress
    return Progress(total, desc, mode=mode, unit_bytes=row_bytes)


@contextlib.contextmanager
def _scratch_folder(directory):
    """A scratch folder in ``directory``, removed on the way out; what killed
    runs left in ``directory`` is removed on the way in."""
    path = scratch_dir(directory, "shuffle")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _byte_rows(rows):
    """``rows`` (C-contiguous, any dtype but object) as ``(n, row_bytes)`` uint8."""
    items = int(np.prod(rows.shape[1:], dtype=np.int64))
    return rows.reshape(len(rows), items).view(np.uint8)


def _eviction_window():
    """Scratch bytes left in the page cache between evictions: a sixteenth
    of the machine's memory, at most 512 MiB."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        memory = 8 << 30
    return min(512 * MB, memory // 16)


def _scatter_through(files, chunks, at, sizes, then_evict):
    """Write the runs of ``sizes[b]`` rows of each chunk at rows ``at[b]``.

    Each array of ``chunks`` goes to its unbuffered file, which is then
    evicted if ``then_evict``. Scratch rows are read back only once, in
    pass 2: kept in the page cache they would take fresh memory and be
    written back anyway.
    """
    for f, rows in zip(files, chunks, strict=True):
        data = memoryview(_byte_rows(rows).reshape(-1))
        row_bytes = data.nbytes // max(1, len(rows))
        for offset, size in zip(at.tolist(), sizes.tolist(), strict=True):
            run, data = data[: size * row_bytes], data[size * row_bytes :]
            f.seek(offset * row_bytes)
            while run:
                run = run[f.write(run) :]
        if then_evict:
            release_pages(f)


def _read_rows(f, rows, at):
    """Fill ``rows`` from row ``at`` of the unbuffered file ``f``, then evict it."""
    data = memoryview(_byte_rows(rows).reshape(-1))
    f.seek(int(at) * (data.nbytes // max(1, len(rows))))
    while data:
        got = f.readinto(data)
        if not got:
            raise OSError(f"scratch file {f.name!r} ended early at byte {f.tell()}")
        data = data[got:]
    release_pages(f)
