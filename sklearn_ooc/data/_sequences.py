"""Rows read in batches of whole sequences.

A sequence-aware plan over any source the data layer reads: consecutive
sequences are grouped into batches of at most ``batch_size`` rows, whose
forward-backward recursions need no rows of another batch; a longer sequence
is cut into segments of ``batch_size`` rows, a batch each.
"""

from __future__ import annotations

import os

import numpy as np

from .._kernels import sequence_batches
from ._source import BatchSource


def check_lengths(lengths, n_samples):
    """The lengths of the sequences of ``n_samples`` rows, as int64.

    Parameters
    ----------
    lengths : array-like of int, str, os.PathLike or None
        Rows of each sequence, in order, or the path of a ``.npy`` file of
        them; ``None`` is one sequence of all the rows.
    n_samples : int
        Rows of the observations.

    Returns
    -------
    lengths : ndarray of shape (n_sequences,)
        The lengths, checked: positive integers summing to ``n_samples``
        (hmmlearn's error, word for word, when they do not).

    Examples
    --------
    >>> from sklearn_ooc.data import check_lengths
    >>> check_lengths([3, 2], 5)
    array([3, 2])
    >>> check_lengths(None, 5)
    array([5])
    """
    if lengths is None:
        return np.array([n_samples], dtype=np.int64)
    if isinstance(lengths, str | os.PathLike):
        path = os.fspath(lengths)
        try:
            lengths = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"lengths names {path!r}, which is not a readable .npy file of "
                f"sequence lengths: {exc}"
            ) from None
    values = np.asarray(lengths)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"lengths must be a 1-D array of sequence lengths, got shape {values.shape}"
        )
    if values.dtype.kind not in "iu":
        if values.dtype.kind != "f" or not np.all(values == np.round(values)):
            raise ValueError(
                f"lengths must be integers (rows per sequence), got dtype "
                f"{values.dtype}"
            )
    values = values.astype(np.int64)
    if values.sum() != n_samples:
        raise ValueError(f"lengths array {lengths} doesn't sum to {n_samples} samples")
    bad = np.flatnonzero(values < 1)
    if bad.size:
        s = int(bad[0])
        raise ValueError(
            f"lengths[{s}] is {values[s]}: every sequence must hold at least one row"
        )
    return values


def lengths_from_column(X, lengths, chunk_rows=1 << 20):
    """``(X, lengths)`` with a column of sequence ids turned into lengths.

    When ``X`` is a table and ``lengths`` names one of its columns, the rows
    of a sequence are the consecutive rows with the same value there (an id
    of the sequence): that column is read in chunks, its runs counted, and
    ``X`` loses it. Anything else is returned as it is.

    Parameters
    ----------
    X : any source the data layer reads
        The observations.
    lengths : array-like, str, os.PathLike or None
        The lengths, a ``.npy`` file of them, or a column of ``X``.

    Returns
    -------
    X, lengths

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ooc.data import lengths_from_column, open_table
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "s": [7, 7, 3, 3, 3]})
    >>> X, lengths = lengths_from_column(open_table(frame), "s")
    >>> list(X.columns), lengths.tolist()
    (['x'], [2, 3])
    """
    from ._table import Table

    if not (isinstance(lengths, str) and isinstance(X, Table)):
        return X, lengths
    if lengths not in X.columns:
        return X, lengths
    ids = X[lengths]
    n = ids.shape[0]
    runs, last = [], None
    for start in range(0, n, chunk_rows):
        values = np.asarray(ids[start : min(n, start + chunk_rows)])
        if not values.size:
            continue
        # Where a new sequence starts: a value other than the row before.
        new = np.ones(values.size, dtype=bool)
        new[1:] = values[1:] != values[:-1]
        if last is not None and values[0] == last:
            new[0] = False
        heads = np.flatnonzero(new)
        if runs and not new[0]:
            first = heads[0] if heads.size else values.size
            runs[-1] += int(first)
        bounds = np.append(heads, values.size)
        runs.extend(int(b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
        last = values[-1]
    return X.drop(columns=lengths), np.array(runs, dtype=np.int64)


class SequenceSource(BatchSource):
    """A :class:`~sklearn_ooc.data.BatchSource` whose batches follow sequences.

    Consecutive sequences are grouped into batches of at most ``batch_size``
    rows; a sequence longer than that is cut into segments of
    ``batch_size`` rows, a batch each, which the models read in order (the
    forward recursion) and in reverse (the backward one).

    Parameters
    ----------
    X : any source :class:`~sklearn_ooc.data.BatchSource` reads
        The observations, one row each, sequences one after the other.
    lengths : array-like of int or None
        Rows of each sequence; ``None``: one sequence of all rows.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    check_rows : callable, default=None
        ``check_rows(X)`` on the rows of every batch read: ``None`` if the
        model can read them, else ``(row, problem)``, the first bad row of
        the batch (or ``None`` for the whole batch) and what is wrong with
        it; the error raised names the absolute row and the batch.
    """

    def __init__(self, X, lengths=None, *, batch_size="auto", check_rows=None):
        super().__init__(X, batch_size=batch_size)
        self.check_rows = check_rows
        # Batches are made of sequences, never of Dask chunks: rows are read
        # on this machine.
        self.is_dask = False
        self.lengths = check_lengths(lengths, self.n_samples)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self._starts, self._firsts, self._split = sequence_batches(
            self.lengths, self.batch_size
        )
        self.n_batches = len(self._starts) - 1
        segments = np.flatnonzero(self._split)
        if segments.size:
            new = np.ones(segments.size, dtype=bool)
            new[1:] = self._firsts[segments[1:]] != self._firsts[segments[:-1]]
            heads = segments[new]
            ends = np.append(segments[np.flatnonzero(new)[1:] - 1], segments[-1]) + 1
            self.split_ranges = list(zip(heads.tolist(), ends.tolist(), strict=True))
        else:
            self.split_ranges = []

    @property
    def n_sequences(self):
        return len(self.lengths)

    def is_split(self, index):
        """Whether batch ``index`` is a segment of a sequence longer than a
        batch."""
        return bool(self._split[index])

    def bounds(self, index):
        """Absolute row range ``(start, stop)`` of batch ``index``."""
        if not 0 <= index < self.n_batches:
            raise IndexError(
                f"batch {index} out of range: the source has {self.n_batches}"
            )
        return int(self._starts[index]), int(self._starts[index + 1])

    def _batch_of(self, row):
        return int(np.searchsorted(self._starts, row, side="right")) - 1

    def sequences(self, index):
        """Indices of the first sequence of batch ``index`` and of the next
        batch's, and the row offsets of its sequences within the batch (a
        batch of whole sequences)."""
        first, stop = int(self._firsts[index]), int(self._firsts[index + 1])
        offsets = self.offsets[first : stop + 1] - self.offsets[first]
        return first, stop, offsets

    def read(self, index):
        """Read and validate batch ``index``, then check its rows for the model.

        The model's check runs on every read: what it accepts can change
        between passes (the symbols a model emits are known after the first).
        """
        batch = super().read(index)
        if self.check_rows is not None:
            problem = self.check_rows(batch.X)
            if problem is not None:
                row, what = problem
                at = "" if row is None else f"at row {batch.start + row} "
                raise ValueError(
                    f"Input X {at}(batch {index}, rows {batch.start}-"
                    f"{batch.stop - 1}){self.maker.where()}: {what}"
                )
        return batch
