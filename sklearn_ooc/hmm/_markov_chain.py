"""Markov chains of order k over symbols, from counts streamed in one pass."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._stats import Largest
from ..base import OutOfCoreMixin
from ..data import SequenceSource, check_batch_size, lengths_from_column


class _ChainCounts:
    """Counts of the first ``k`` symbols of the sequences (prefixes) and of
    every run of ``k + 1`` symbols; merging adds them."""

    def __init__(self, prefixes, runs, n_sequences):
        self.prefixes = prefixes
        self.runs = runs
        self.n_sequences = n_sequences

    def __add__(self, other):
        return _ChainCounts(
            [a + b for a, b in zip(self.prefixes, other.prefixes, strict=True)],
            self.runs + other.runs,
            self.n_sequences + other.n_sequences,
        )


def _flat(symbols, m):
    """Mixed-radix code of rows of symbols (the first the most significant)."""
    code = np.zeros(symbols.shape[0], dtype=np.int64)
    for j in range(symbols.shape[1]):
        code = code * m + symbols[:, j]
    return code


class MarkovChain(OutOfCoreMixin, BaseEstimator):
    """A Markov chain of order ``k`` over integer symbols, fitted exactly.

    pomegranate's ``MarkovChain``: the first symbol of a sequence has a
    categorical distribution, each of the next ``k - 1`` one conditioned on
    the symbols before it, and every later symbol one conditioned on the
    ``k`` symbols before it. The maximum-likelihood tables are counts
    normalized: one streamed pass over the rows counts them, sequence by
    sequence, a sequence longer than a batch included (the ``k`` rows before
    a batch are read again as its context).

    Parameters
    ----------
    k : int, default=1
        Order of the chain: how many symbols a symbol depends on.
    n_symbols : int, default=None
        Number of symbols; ``None``: one more than the largest symbol of the
        data.
    pseudocount : float, default=0.0
        Added to every count before normalizing (a table row without counts
        is then uniform; without it, such a row stays zero).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches counted in parallel (the same tables for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    initial_probs_ : list of ndarray
        ``initial_probs_[j]`` has ``j + 1`` axes of ``n_symbols_``: the
        probability of the ``(j+1)``-th symbol of a sequence given the
        ``j`` before it (the last axis).
    transition_probs_ : ndarray with ``k + 1`` axes of ``n_symbols_``
        The probability of a symbol given the ``k`` before it (the last axis).
    n_symbols_ : int
        Number of symbols.
    n_sequences_ : int
        Sequences of the fit.
    n_features_in_ : int
        Number of columns seen during fit (one symbol a row).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.hmm import MarkovChain
    >>> X = np.array([0, 1, 0, 1, 0, 1, 1, 1, 0, 1])[:, None]
    >>> chain = MarkovChain(k=1, batch_size=4).fit(X, lengths=[6, 4])
    >>> chain.transition_probs_
    array([[0.  , 1.  ],
           [0.75, 0.25]])
    """

    _parameter_constraints: dict = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "n_symbols": [Interval(Integral, 1, None, closed="left"), None],
        "pseudocount": [Interval(Real, 0, None, closed="left")],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    _accept_sparse = False

    def __init__(
        self,
        k=1,
        *,
        n_symbols=None,
        pseudocount=0.0,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.k = k
        self.n_symbols = n_symbols
        self.pseudocount = pseudocount
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _open(self, X, lengths, *, reset, batch_size=None):
        if sp.issparse(X):
            raise TypeError(
                "MarkovChain does not accept sparse input: pass a dense array, a "
                "memory map or a .npy file"
            )
        if batch_size is None:
            batch_size = self.batch_size
        X, lengths = lengths_from_column(X, lengths)
        source = SequenceSource(
            X,
            lengths,
            batch_size=check_batch_size(batch_size),
            check_rows=self._check_rows,
        )
        if reset:
            self._validate_params()
            self.n_features_in_ = source.n_features
        elif source.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {source.n_features} features, but MarkovChain is expecting "
                f"{self.n_features_in_} features as input."
            )
        return source

    def _symbols_known(self):
        if self.n_symbols is not None:
            return self.n_symbols
        return self.__dict__.get("n_symbols_")

    def _check_rows(self, X):
        if X.shape[1] != 1:
            return None, f"holds {X.shape[1]} columns; a MarkovChain reads one"
        column = X[:, 0]
        bad = np.flatnonzero((column != np.floor(column)) | (column < 0))
        if bad.size:
            return int(bad[0]), (
                f"symbols are non-negative integers: got {column[bad[0]]}"
            )
        m = self._symbols_known()
        if m is not None:
            bad = np.flatnonzero(column > m - 1)
            if bad.size:
                return int(bad[0]), (
                    f"symbol {int(column[bad[0]])} is beyond the {m} symbols of "
                    "the chain"
                )
        return None

    def _context(self, source, index):
        """The symbols of the ``k`` rows before batch ``index`` that belong to
        the same sequence, and where that sequence starts."""
        start, _ = source.bounds(index)
        sequence = int(np.searchsorted(source.offsets, start, side="right")) - 1
        first = int(source.offsets[sequence])
        lo = max(first, start - self.k)
        if lo == start:
            return np.zeros(0, dtype=np.int64), first
        rows = source.take(np.arange(lo, start))
        return np.asarray(rows).reshape(-1).astype(np.int64), first

    def _count(self, batch, source, m):
        k = self.k
        symbols = batch.X[:, 0].astype(np.int64)
        context, first = self._context(source, batch.index)
        start = batch.start
        # Position of every row in its sequence.
        seq = np.searchsorted(source.offsets, np.arange(start, batch.stop), "right") - 1
        position = np.arange(start, batch.stop) - source.offsets[seq]
        extended = np.concatenate([context, symbols])
        offset = len(context)
        prefixes = [np.zeros(m ** (j + 1)) for j in range(k)]
        for j in range(k):
            rows = np.flatnonzero(position == j)
            if rows.size:
                window = np.stack(
                    [extended[offset + rows - j + i] for i in range(j + 1)], axis=1
                )
                prefixes[j] += np.bincount(_flat(window, m), minlength=m ** (j + 1))
        rows = np.flatnonzero(position >= k)
        runs = np.zeros(m ** (k + 1))
        if rows.size:
            window = np.stack(
                [extended[offset + rows - k + i] for i in range(k + 1)], axis=1
            )
            runs += np.bincount(_flat(window, m), minlength=m ** (k + 1))
        return _ChainCounts(prefixes, runs, int(np.sum(position == 0)))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, lengths=None, *, batch_size=None):
        """Count the chain's runs of symbols in one pass and normalize them.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape (n_samples, 1)
            The symbols, the sequences one after the other.
        lengths : array-like of int, str or os.PathLike, default=None
            Rows of each sequence, the path of a ``.npy`` file of them, or
            the column of a table ``X`` holding each row's sequence id;
            ``None``: one sequence.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            self.__dict__.pop("n_symbols_", None)
            source = self._open(X, lengths, reset=True, batch_size=batch_size)
            m = self.n_symbols
            if m is None:
                m = 1 + int(
                    self._reduce(
                        source,
                        desc="symbols",
                        summarize=lambda b: Largest(float(b.X.max())),
                    ).value
                )
            self.n_symbols_ = m
            counts = self._reduce(
                source, desc="fit", summarize=lambda b: self._count(b, source, m)
            )
            shape = lambda j: (m,) * (j + 1)  # noqa: E731
            self.initial_probs_ = [
                _normalized(p.reshape(shape(j)) + self.pseudocount)
                for j, p in enumerate(counts.prefixes)
            ]
            self.transition_probs_ = _normalized(
                counts.runs.reshape(shape(self.k)) + self.pseudocount
            )
            self.n_sequences_ = counts.n_sequences
            self._is_fitted = True
        return self

    def score_samples(self, X, lengths=None):
        """Log-probability of every sequence.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape (n_samples, 1)
            The symbols, the sequences one after the other.
        lengths : array-like of int, str or os.PathLike, default=None
            Rows of each sequence; ``None``: one sequence.

        Returns
        -------
        log_prob : ndarray of shape (n_sequences,)
        """
        check_is_fitted(self)
        source = self._open(X, lengths, reset=False)
        m, k = self.n_symbols_, self.k
        with np.errstate(divide="ignore"):
            logs = [np.log(p).ravel() for p in self.initial_probs_]
            log_runs = np.log(self.transition_probs_).ravel()
        out = np.zeros(source.n_sequences)

        def rows(batch):
            symbols = batch.X[:, 0].astype(np.int64)
            context, _ = self._context(source, batch.index)
            seq = (
                np.searchsorted(
                    source.offsets, np.arange(batch.start, batch.stop), "right"
                )
                - 1
            )
            position = np.arange(batch.start, batch.stop) - source.offsets[seq]
            extended = np.concatenate([context, symbols])
            offset = len(context)
            values = np.empty(len(symbols))
            for j in range(k):
                at = np.flatnonzero(position == j)
                if at.size:
                    window = np.stack(
                        [extended[offset + at - j + i] for i in range(j + 1)], axis=1
                    )
                    values[at] = logs[j][_flat(window, m)]
            at = np.flatnonzero(position >= k)
            if at.size:
                window = np.stack(
                    [extended[offset + at - k + i] for i in range(k + 1)], axis=1
                )
                values[at] = log_runs[_flat(window, m)]
            return np.column_stack([seq, values])

        for _, result in self._engine().map(
            source, range(source.n_batches), rows, desc="score"
        ):
            np.add.at(out, result[:, 0].astype(np.int64), result[:, 1])
        return out

    def score(self, X, lengths=None):
        """Total log-probability of the sequences.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str or os.PathLike of shape (n_samples, 1)
            The symbols.
        lengths : array-like of int, str or os.PathLike, default=None
            Rows of each sequence.

        Returns
        -------
        log_prob : float
        """
        return float(self.score_samples(X, lengths).sum())

    def sample(self, n_sequences=1, length=10, random_state=None):
        """Draw sequences of ``length`` symbols.

        Parameters
        ----------
        n_sequences : int, default=1
            Number of sequences.
        length : int, default=10
            Symbols of each.
        random_state : int, RandomState instance or None, default=None
            Seed.

        Returns
        -------
        X : ndarray of shape (n_sequences * length, 1)
            The sequences one after the other (``lengths``: ``length`` each).
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        m, k = self.n_symbols_, self.k
        out = np.empty((n_sequences, length), dtype=np.int64)
        for s in range(n_sequences):
            for t in range(length):
                table = self.initial_probs_[t] if t < k else self.transition_probs_
                before = tuple(out[s, max(0, t - k) : t])
                probs = table[before]
                if not probs.sum() > 0:
                    probs = np.full(m, 1.0 / m)
                out[s, t] = rng.choice(m, p=probs / probs.sum())
        return out.reshape(-1, 1)


def _normalized(counts):
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, counts / np.where(total > 0, total, 1), 0.0)
