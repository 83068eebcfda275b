"""An exact, uniform shuffle of the rows of a file larger than memory."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
from sklearn.utils import check_random_state

from ..data import open_rows
from ._npy_writer import npy_writers

MB = 1 << 20


def _row_reader(data, name):
    arr = open_rows(data, name, numeric=False)
    if hasattr(arr, "tocsr"):
        raise TypeError(f"{name}: sparse input cannot be shuffled on disk")
    return arr


def _bucket_plan(n_rows, capacity, seed, chunk_rows):
    """Draw the bucket of every row (counts only) until no bucket overflows.

    Rows go to buckets independently and uniformly; a bucket must fit in the
    buffer. Redrawing when one would not leaves the permutation uniform: the
    condition depends on the bucket counts alone, which do not change when
    rows are relabelled.
    """
    n_buckets = max(1, -(-2 * n_rows // capacity))
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


def shuffle_on_disk(X, y=None, out=None, *, buffer_mb=64, random_state=None):
    """Write a uniformly random permutation of the rows of ``X`` (and ``y``).

    An external shuffle in two sequential passes, holding at most about
    ``buffer_mb`` megabytes of rows in memory: the first pass reads ``X``
    chunk by chunk and scatters each row to a random bucket, the buckets being
    regions of one temporary file; the second reads each bucket, shuffles it
    in memory and appends it to the output. Every row lands exactly once, and
    every permutation is equally likely. ``y`` is permuted with ``X``.

    The outputs are written under temporary names and renamed when complete;
    on any error they are not created and every temporary file is removed.

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
    if not buffer_mb > 0:
        raise ValueError(f"buffer_mb must be positive, got {buffer_mb}")
    X = _row_reader(X, "X")
    if len(X.shape) not in (1, 2):
        raise ValueError(f"X must be 1-D or 2-D, got shape {X.shape}")
    n_rows = X.shape[0]
    Y = None
    if y is not None:
        Y = _row_reader(y, "y")
        if Y.shape[0] != n_rows:
            raise ValueError(f"y has {Y.shape[0]} rows but X has {n_rows}")
    row_bytes = X.dtype.itemsize * int(np.prod(X.shape[1:], dtype=np.int64))
    if Y is not None:
        row_bytes += Y.dtype.itemsize * int(np.prod(Y.shape[1:], dtype=np.int64))
    # Half the buffer for the rows read, half for their copy in bucket order.
    capacity = int(buffer_mb * MB) // (2 * max(1, row_bytes))
    if capacity < 16 and n_rows > capacity:
        raise ValueError(
            f"buffer_mb={buffer_mb} holds {capacity} rows of {row_bytes} bytes; "
            "raise it to hold at least 16"
        )
    capacity = max(capacity, 1)
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    chunk_rows = max(1, capacity)
    n_buckets, counts, bucket_seed = _bucket_plan(n_rows, capacity, seed, chunk_rows)

    out = os.fspath(out)
    directory = os.path.dirname(os.path.abspath(out))
    X_path, y_path = f"{out}_X.npy", f"{out}_y.npy" if Y is not None else None
    tmpdir = tempfile.mkdtemp(prefix=".sklearn_ooc_shuffle_", dir=directory)
    parts = [X] + ([Y] if Y is not None else [])

    def bucket_path(j, b):
        return os.path.join(tmpdir, f"{j}_{b}")

    try:
        # Pass 1: read in order and append every row to its bucket's file.
        rng = np.random.default_rng(bucket_seed)
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            buckets = rng.integers(n_buckets, size=stop - start)
            order = np.argsort(buckets, kind="stable")
            bounds = np.concatenate(
                [[0], np.cumsum(np.bincount(buckets, minlength=n_buckets))]
            )
            for j, arr in enumerate(parts):
                rows = np.ascontiguousarray(np.asarray(arr[start:stop])[order])
                for b in np.flatnonzero(np.diff(bounds)):
                    with open(bucket_path(j, b), "ab") as f:
                        f.write(rows[bounds[b] : bounds[b + 1]].data)
        # Pass 2: read each bucket, shuffle it in memory, append it to the
        # output; the bucket file goes at once (before the system spends time
        # writing it to disk).
        specs = [
            (path, arr.shape, arr.dtype)
            for arr, path in zip(parts, [X_path, y_path], strict=False)
        ]
        permute = np.random.default_rng(np.random.SeedSequence([seed, 1 << 20]))
        with npy_writers(*specs) as writers:
            for b in range(n_buckets):
                perm = permute.permutation(counts[b])
                for j, (arr, writer) in enumerate(zip(parts, writers, strict=True)):
                    if counts[b] == 0:
                        continue
                    path = bucket_path(j, b)
                    bucket = np.fromfile(path, dtype=arr.dtype).reshape(
                        (int(counts[b]),) + arr.shape[1:]
                    )
                    os.remove(path)
                    writer.write(bucket[perm])
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return X_path, y_path
